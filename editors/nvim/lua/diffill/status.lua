--- What each diffill client last said about its model (diffill/status, diffill/statusChanged) and its
--- work-done progress, for :DiffillStatus and the statusline component.
---
--- A change fires `User DiffillStatus` (data: the client id) and redraws the statuslines.

local M = {}

---@class diffill.ClientStatus
---@field state string loading|ready|failed|busy
---@field model string?
---@field device string?
---@field error string?
---@field settings table?
---@field serving string "base" | "adapted": which model answers now
---@field adaptation diffill.Adaptation? where learning the workspace stands (nil: never asked)
---@field progress table<string|integer, {title: string?, message: string?, percentage: integer?}>

---@class diffill.Adaptation
---@field state string idle|running|ready|failed
---@field workspace string? the folder it learns
---@field progress number? 0..1
---@field model string? the adapted model directory
---@field message string?

---@type table<integer, diffill.ClientStatus>
M.clients = {}

--- Callbacks waiting for a client's model to be ready (or to fail): client id -> list.
local waiting = {}

local function entry(client_id)
  local e = M.clients[client_id]
  if not e then
    e = { state = "loading", progress = {} }
    M.clients[client_id] = e
  end
  return e
end

local function changed(client_id)
  vim.schedule(function()
    pcall(vim.cmd.redrawstatus, { bang = true })
    vim.api.nvim_exec_autocmds("User", { pattern = "DiffillStatus", modeline = false, data = { client_id = client_id } })
  end)
end

local function flush_waiting(client_id)
  local e = M.clients[client_id]
  if not e or e.state == "loading" then
    return
  end
  local callbacks = waiting[client_id] or {}
  waiting[client_id] = nil
  for _, fn in ipairs(callbacks) do
    fn(e)
  end
end

--- A diffill/status result or diffill/statusChanged notification.
---@param client_id integer
---@param status table
function M.update(client_id, status)
  if type(status) ~= "table" then
    return
  end
  local e = entry(client_id)
  e.state = status.state or e.state
  e.model = status.model ~= vim.NIL and status.model or nil
  e.device = status.device ~= vim.NIL and status.device or nil
  e.error = status.error ~= vim.NIL and status.error or nil
  if type(status.settings) == "table" then
    e.settings = status.settings
  end
  e.serving = status.serving == "adapted" and "adapted" or "base" -- absent: base
  e.adaptation = type(status.adaptation) == "table" and M.adaptation(status.adaptation) or nil
  changed(client_id)
  flush_waiting(client_id)
end

--- The wire Adaptation with its nulls as nil.
---@return diffill.Adaptation
function M.adaptation(a)
  local function v(x)
    return x ~= vim.NIL and x or nil
  end
  return {
    state = v(a.state) or "idle",
    workspace = v(a.workspace),
    progress = type(a.progress) == "number" and a.progress or nil,
    model = v(a.model),
    message = v(a.message),
  }
end

--- An LspProgress event of a diffill client.
---@param client_id integer
---@param params table the $/progress params
function M.progress(client_id, params)
  local value = params.value
  if type(value) ~= "table" then
    return
  end
  local e = entry(client_id)
  if value.kind == "end" then
    e.progress[params.token] = nil
  else
    local p = e.progress[params.token] or {}
    p.title = value.title or p.title
    p.message = value.message or p.message
    p.percentage = value.percentage or p.percentage
    e.progress[params.token] = p
  end
  changed(client_id)
end

--- Forget a client that exited.
function M.forget(client_id)
  M.clients[client_id] = nil
  local callbacks = waiting[client_id] or {}
  waiting[client_id] = nil
  for _, fn in ipairs(callbacks) do
    fn({ state = "failed", error = "the diffill server exited", progress = {} })
  end
  changed(client_id)
end

--- Call `fn(status)` once the client's model is no longer loading (now, if it is not).
---@param client_id integer
---@param fn fun(status: diffill.ClientStatus)
function M.when_loaded(client_id, fn)
  local e = entry(client_id)
  if e.state ~= "loading" then
    fn(e)
    return
  end
  waiting[client_id] = waiting[client_id] or {}
  table.insert(waiting[client_id], fn)
end

---@param client_id integer
---@return diffill.ClientStatus?
function M.get(client_id)
  return M.clients[client_id]
end

local function short_model(model)
  if not model then
    return "default"
  end
  local name = vim.fs.basename((model:gsub("[/\\]+$", "")))
  return name ~= "" and name or model
end

M.short_model = short_model

--- The progress to show: a fill's or rewrite's before any other (learning the workspace runs long).
local function shown_progress(progress)
  local other
  for _, p in pairs(progress) do
    local title = p.title or ""
    if title:find("filling", 1, true) or title:find("rewriting", 1, true) then
      return p
    end
    other = other or p
  end
  return other
end

--- " learning 40%", " learned", " learning failed", or "" (nothing asked yet, or idle).
---@param a diffill.Adaptation?
function M.format_adaptation(a)
  if not a then
    return ""
  elseif a.state == "running" then
    return " learning" .. (a.progress and (" %d%%"):format(math.floor(a.progress * 100 + 0.5)) or "")
  elseif a.state == "failed" then
    return " learning failed"
  end
  return ""
end

--- The model that answers: "<model>" (the base model, e.g. "default"), or "adapted:<workspace>" (the
--- model adapted to a workspace folder; its directory is a cache entry, so the folder names it).
---@param e diffill.ClientStatus
function M.serving_name(e)
  if e.serving ~= "adapted" then
    return short_model(e.model)
  end
  local workspace = e.adaptation and e.adaptation.workspace
  return "adapted:" .. (workspace and short_model(workspace) or short_model(e.model))
end

--- "diffill default cpu idle", "diffill adapted:myrepo cpu idle", "diffill loading",
--- "diffill 40% filling 3 holes", "diffill default cpu idle learning 40%", ...
---@param e diffill.ClientStatus?
---@return string
function M.format(e)
  if not e then
    return ""
  end
  local p = shown_progress(e.progress)
  if p then
    local pct = p.percentage and (" %d%%"):format(p.percentage) or ""
    local title = (p.title or "working"):gsub("^diffill: ", "")
    return ("diffill%s %s"):format(pct, title)
  end
  if e.state == "loading" then
    return "diffill loading " .. short_model(e.model)
  elseif e.state == "failed" then
    return "diffill failed"
  end
  local what = e.state == "busy" and "busy" or "idle"
  return ("diffill %s %s %s%s"):format(M.serving_name(e), e.device or "?", what, M.format_adaptation(e.adaptation))
end

return M
