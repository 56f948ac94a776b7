--- :checkhealth diffill — Neovim, the server command and its version, the model, running servers.

local M = {}

local health = vim.health
local VERSION_TIMEOUT_MS = 60000 -- `diffill --version` may import torch on a slow machine

local function check_neovim()
  if vim.fn.has("nvim-0.12") == 1 and vim.lsp.inline_completion then
    health.ok("Neovim " .. tostring(vim.version()) .. " (LSP inline completion: ghost text available)")
  elseif vim.fn.has("nvim-0.11") == 1 then
    health.warn("Neovim " .. tostring(vim.version()) .. ": no vim.lsp.inline_completion, so no ghost text",
      { "Ghost text needs Neovim 0.12; :DiffillFill, :DiffillRewrite and code actions work" })
  elseif vim.fn.has("nvim-0.10") == 1 then
    health.warn("Neovim " .. tostring(vim.version()) .. ": started with vim.lsp.start (no vim.lsp.config); no ghost text")
  else
    health.error("Neovim " .. tostring(vim.version()) .. " is too old", { "diffill.nvim needs Neovim 0.10 or newer" })
  end
end

--- The command that prints the version: the server command up to "serve", plus --version.
local function version_command(cmd)
  local out = {}
  for _, arg in ipairs(cmd) do
    if arg == "serve" then
      break
    end
    table.insert(out, arg)
  end
  table.insert(out, "--version")
  return out
end

local function check_command(config)
  local cmd = config.cmd
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(("server command %q is not executable"):format(cmd[1]), {
      "Install diffill from a clone of its repository into a virtual environment"
        .. " (pip install /path/to/diffill) and put the environment's bin/ on $PATH",
      'or set cmd = { "/path/to/venv/bin/diffill", "serve" } in require("diffill").setup()',
    })
    return
  end
  health.ok(("server command: %s (%s)"):format(table.concat(cmd, " "), vim.fn.exepath(cmd[1])))
  local argv = version_command(cmd)
  local ok, result = pcall(function()
    return vim.system(argv, { text = true }):wait(VERSION_TIMEOUT_MS)
  end)
  if not ok then
    health.error(("%s failed: %s"):format(table.concat(argv, " "), tostring(result)))
    return
  end
  local text = vim.trim((result.stdout or "") .. (result.stderr or ""))
  local version = text:match("diffill%s+(%d+%.%d+[%w%.%-+]*)")
  if result.code == 0 and version then
    health.ok("diffill version " .. version)
  else
    health.error(("%s exited with %s: %s"):format(table.concat(argv, " "), tostring(result.code), text))
  end
end

local function check_model(config)
  local settings = require("diffill.config").server_settings(config)
  local model = settings.model
  if not model then
    health.info("model: the one bundled with the server (its state is shown below once a server runs)")
    return
  end
  if vim.fn.isdirectory(model) ~= 1 then
    health.error(("model directory %s does not exist"):format(model), { "Set model to a checkpoint directory" })
    return
  end
  local missing = {}
  if vim.fn.filereadable(model .. "/config.json") ~= 1 then
    table.insert(missing, "config.json")
  end
  if #vim.fn.glob(model .. "/*.safetensors", false, true) == 0 then
    table.insert(missing, "*.safetensors")
  end
  if vim.fn.filereadable(model .. "/tokenizer.json") ~= 1 then
    table.insert(missing, "tokenizer.json")
  end
  if #missing > 0 then
    health.error(("model %s lacks %s"):format(model, table.concat(missing, ", ")))
  else
    health.ok("model: " .. model)
  end
end

local function check_clients()
  local lsp = require("diffill.lsp")
  local status = require("diffill.status")
  local clients = lsp.clients()
  if #clients == 0 then
    health.info("no diffill server is running (it starts when a buffer of a configured filetype opens)")
    return
  end
  for _, client in ipairs(clients) do
    local reply = vim.fn.has("nvim-0.11") == 1 and client:request_sync(lsp.STATUS, vim.empty_dict(), 5000)
      or client.request_sync(lsp.STATUS, vim.empty_dict(), 5000)
    if reply and reply.result then
      status.update(client.id, reply.result)
    end
    local e = status.get(client.id) or {}
    local what = ("server (client %d): model %s on %s, %s"):format(
      client.id, tostring(e.model or "bundled"), tostring(e.device or "?"), tostring(e.state))
    if e.state == "failed" then
      health.error(what .. ": " .. tostring(e.error), { "Set model to a checkpoint directory in setup(): the server loads it again" })
    elseif e.state == "loading" then
      health.info(what)
    else
      health.ok(what)
    end
  end
end

function M.check()
  health.start("diffill")
  check_neovim()
  if not require("diffill")._did_setup then
    health.warn('require("diffill").setup() was not called: the server does not start',
      { 'Call require("diffill").setup({}) in your config' })
  end
  local config = require("diffill.config").current
  health.info("filetypes: " .. table.concat(config.filetypes, ", "))
  check_command(config)
  check_model(config)
  check_clients()
end

return M
