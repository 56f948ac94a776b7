--- Start `diffill serve` with Neovim's own LSP client and talk to it.
---
--- Neovim 0.11+: `vim.lsp.config("diffill", ...)` + `vim.lsp.enable("diffill")`. Older versions: a
--- FileType autocmd that calls `vim.lsp.start`. Settings go both as `initializationOptions` and as the
--- `diffill` section of `settings` (sent with workspace/didChangeConfiguration, answered to
--- workspace/configuration).

local status = require("diffill.status")

local M = {}

M.name = "diffill"
M.FILL = "diffill/fill"
M.STATUS = "diffill/status"
M.STATUS_CHANGED = "diffill/statusChanged"
M.PREFETCH = "diffill/prefetch"
M.MARKS = "diffill/marks"
M.PREVIEW = "diffill/preview"
M.CMD_ADAPT_NOW = "diffill.adaptNow"
M.CMD_ACCEPTED = "diffill.accepted"

local has_011 = vim.fn.has("nvim-0.11") == 1
local group = vim.api.nvim_create_augroup("diffill.lsp", { clear = true })

--- client:request / client.request across versions.
function M.request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.notify(client, method, params)
  if has_011 then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

--- The diffill client attached to `bufnr` (0: current), if any.
---@return vim.lsp.Client?
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = M.name, bufnr = bufnr })[1]
end

---@return vim.lsp.Client[]
function M.clients()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  return get({ name = M.name })
end

local function handlers()
  return {
    [M.STATUS_CHANGED] = function(_, params, ctx)
      status.update(ctx.client_id, params)
    end,
    [M.MARKS] = function(_, params, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      require("diffill.marks").on_notification(params, client and client.offset_encoding or "utf-16")
    end,
    [M.PREVIEW] = function(_, params, ctx)
      require("diffill.preview").on_notification(params, ctx.client_id)
    end,
  }
end

--- Whether the server lists `command` in its executeCommandProvider.
---@param client vim.lsp.Client
---@param command string
function M.has_command(client, command)
  local provider = (client.server_capabilities or {}).executeCommandProvider
  return type(provider) == "table" and vim.tbl_contains(provider.commands or {}, command)
end

--- Ask the server for its status (diffill/status) and keep what it says.
---@param client vim.lsp.Client
function M.refresh_status(client)
  M.request(client, M.STATUS, vim.empty_dict(), function(err, result, ctx)
    if not err then
      status.update(ctx.client_id, result)
    end
  end)
end

--- The client configuration for `config` (a resolved diffill config).
---@param config table
---@return vim.lsp.Config
function M.client_config(config)
  local settings = require("diffill.config").server_settings(config)
  return {
    name = M.name,
    cmd = vim.deepcopy(config.cmd),
    filetypes = vim.deepcopy(config.filetypes),
    root_markers = vim.deepcopy(config.root_markers),
    init_options = settings,
    settings = { diffill = settings },
    handlers = handlers(),
    on_init = function(client)
      M.refresh_status(client)
    end,
    on_exit = function(_, _, client_id)
      status.forget(client_id)
    end,
  }
end

local legacy_autocmd

local function start_legacy(client_config)
  if legacy_autocmd then
    pcall(vim.api.nvim_del_autocmd, legacy_autocmd)
  end
  local function start(bufnr)
    if vim.bo[bufnr].buftype ~= "" then
      return
    end
    local cfg = vim.deepcopy(client_config)
    local file = vim.api.nvim_buf_get_name(bufnr)
    local found = vim.fs.find(cfg.root_markers, { upward = true, path = vim.fs.dirname(file) })[1]
    cfg.root_dir = found and vim.fs.dirname(found) or vim.fs.dirname(file)
    vim.lsp.start(cfg, { bufnr = bufnr })
  end
  legacy_autocmd = vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = client_config.filetypes,
    callback = function(ev)
      start(ev.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(client_config.filetypes, vim.bo[bufnr].filetype) then
      start(bufnr)
    end
  end
end

--- Register the client for the configured filetypes (buffers already open get it too).
---@param config table
function M.enable(config)
  local client_config = M.client_config(config)
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(M.name, client_config)
    vim.lsp.enable(M.name)
  else
    start_legacy(client_config)
  end
end

--- Send new settings to the running clients (the server reloads the model when model/device change).
---@param config table
function M.push_settings(config)
  local settings = require("diffill.config").server_settings(config)
  -- null: back to the bundled model, even if initializationOptions named another one
  settings.model = settings.model or vim.NIL
  for _, client in ipairs(M.clients()) do
    client.settings = { diffill = settings }
    M.notify(client, "workspace/didChangeConfiguration", { settings = client.settings })
  end
end

local function stopped(client)
  if has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

--- Stop the running servers and start fresh ones for the open buffers.
function M.restart(config)
  local old = M.clients()
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.enable(M.name, false) -- stops the clients
  else
    for _, client in ipairs(old) do
      client.stop()
    end
  end
  local waited = 0
  local timer = assert(vim.uv.new_timer())
  timer:start(100, 100, vim.schedule_wrap(function()
    waited = waited + 100
    local alive = vim.tbl_filter(function(c)
      return not stopped(c)
    end, old)
    if #alive > 0 and waited < 5000 then
      if waited == 3000 then
        for _, c in ipairs(alive) do
          if has_011 then c:stop(true) else c.stop(true) end
        end
      end
      return
    end
    if timer:is_closing() then
      return
    end
    timer:stop()
    timer:close()
    M.enable(config) -- starts servers for the open buffers of the configured filetypes
  end))
end

return M
