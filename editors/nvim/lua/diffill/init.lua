--- diffill.nvim: code infilling by a masked-diffusion model, through the `diffill serve` language server.
---
---   require("diffill").setup({ model = "~/models/diffill", device = "cpu" })
---
--- See :help diffill for the options, commands and keys.

local M = {}

local group = vim.api.nvim_create_augroup("diffill", { clear = true })

local function on_attach(ev)
  local lsp = require("diffill.lsp")
  local client = vim.lsp.get_client_by_id(ev.data.client_id)
  if not client or client.name ~= lsp.name then
    return
  end
  local config = require("diffill.config").current
  require("diffill.inline").attach(ev.buf, config)
  require("diffill.prefetch").attach(ev.buf, client, config)
  require("diffill.marks").attach(ev.buf, config.keymaps)
end

--- $/progress of a diffill client: the statusline always, vim.notify when a job starts (and when one we
--- did not start ends: ours end with the command's own message).
local function on_progress(ev)
  local data = ev.data or {}
  local client = data.client_id and vim.lsp.get_client_by_id(data.client_id)
  if not client or client.name ~= require("diffill.lsp").name or not data.params then
    return
  end
  require("diffill.status").progress(client.id, data.params)
  if not require("diffill.config").current.progress then
    return
  end
  local value = data.params.value or {}
  local own = require("diffill.commands").own_tokens[data.params.token]
  if value.kind == "begin" then
    vim.notify((value.title or "diffill: working") .. "…", vim.log.levels.INFO)
  elseif value.kind == "end" and not own then
    vim.notify(("%s: %s"):format(value.title or "diffill", value.message or "done"), vim.log.levels.INFO)
  end
end

local function create_autocmds()
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd("LspAttach", { group = group, callback = on_attach })
  vim.api.nvim_create_autocmd("LspProgress", { group = group, callback = on_progress })
end

--- Configure and start diffill for the configured filetypes. Invalid options keep their defaults and
--- are reported in one message. Calling it again applies new options (running servers get the new
--- settings; a new `cmd` takes effect after :DiffillRestart).
---@param opts? table see :help diffill-options
function M.setup(opts)
  local config = require("diffill.config")
  local resolved, problems = config.resolve(opts)
  if #problems > 0 then
    vim.notify("diffill: invalid options (defaults used): " .. table.concat(problems, "; "), vim.log.levels.ERROR)
  end
  local first = not M._did_setup
  config.current = resolved
  M._did_setup = true
  create_autocmds()
  require("diffill.highlights").setup()
  require("diffill.commands").create()
  local lsp = require("diffill.lsp")
  lsp.enable(resolved)
  if not first then
    lsp.push_settings(resolved)
  end
  return resolved
end

--- Statusline component: "diffill <model> <device> idle|busy" ("adapted:<folder>" for the model when the
--- one adapted to a workspace folder answers; " learning 40%" after it while adaptation runs),
--- "diffill 40% filling 3 holes", "diffill loading ...", "diffill failed", or "" when no diffill server
--- serves the buffer.
---@param bufnr? integer
---@return string
function M.statusline(bufnr)
  local client = require("diffill.lsp").get_client(bufnr or 0)
  if not client then
    return ""
  end
  local status = require("diffill.status")
  return status.format(status.get(client.id))
end

--- Fill every hole of the buffer (as :DiffillFill).
function M.fill(opts)
  return require("diffill.commands").fill(opts)
end

--- Rewrite an LSP range of the buffer: { range = ..., strength = 0..1 }.
function M.rewrite(opts)
  assert(type(opts) == "table" and opts.range, "diffill.rewrite() needs { range = ... }")
  return require("diffill.commands").fill(opts)
end

--- The client's last known status: { state, model, device, error, settings, serving, adaptation, progress }.
function M.status(bufnr)
  local client = require("diffill.lsp").get_client(bufnr or 0)
  return client and require("diffill.status").get(client.id) or nil
end

--- Accept the next word / line of the ghost text (as the accept_word / accept_line keys).
function M.accept_word()
  return require("diffill.inline").accept_word()
end

function M.accept_line()
  return require("diffill.inline").accept_line()
end

--- The uncertain marks of a buffer: { row, col, end_row, end_col } (0-based, byte columns).
function M.marks(bufnr)
  return require("diffill.marks").list(bufnr or 0)
end

--- Remove the uncertain marks of a buffer (as :DiffillClearMarks).
function M.clear_marks(bufnr)
  return require("diffill.marks").clear(bufnr or 0)
end

--- Learn the workspace now (as :DiffillAdapt [folder]).
---@param folder? string a workspace folder (default: the server's)
function M.adapt(folder)
  return require("diffill.commands").adapt({ args = folder or "" })
end

return M
