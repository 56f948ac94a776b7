--- :DiffillFill, :DiffillRewrite, :DiffillStatus, :DiffillCancel, :DiffillClearMarks, :DiffillAdapt,
--- :DiffillRestart and the functions behind them.
---
--- Fills and rewrites use the `diffill/fill` request (edits returned, not applied) with a work-done token
--- of our own, so the edits are applied here only if the buffer is still the version the server read, and
--- the job can be cancelled through its progress. The result's uncertain marks are placed once the edits
--- are in, and the live preview (diffill.preview) goes. Each one ends with `User DiffillDone` (data: the
--- outcome).

local lsp = require("diffill.lsp")
local marks = require("diffill.marks")
local preview = require("diffill.preview")
local status = require("diffill.status")

local M = {}

local counter = 0
--- Fills and rewrites in flight: bufnr -> { client, request_id, token, kind, on_done, dropped? }.
M.active = {}
--- Tokens of the work-done progress we started (the progress display leaves their end to us).
M.own_tokens = {}

local function notify(msg, level)
  vim.notify("diffill: " .. msg, level or vim.log.levels.INFO)
end

local function resolve_buf(bufnr)
  return (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
end

local function client_or_complain(bufnr)
  local client = lsp.get_client(bufnr)
  if not client then
    notify(
      ("no diffill server is attached to this buffer (filetype %q); see :checkhealth diffill"):format(
        vim.bo[bufnr].filetype
      ),
      vim.log.levels.ERROR
    )
  end
  return client
end

local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

local function finish(bufnr, outcome, on_done)
  M.active[bufnr] = nil
  preview.clear(bufnr) -- applied, cancelled or failed: the preview has said what it had to
  if on_done then
    on_done(outcome)
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "DiffillDone", modeline = false, data = outcome })
end

--- What to say and do with a diffill/fill answer.
local function on_result(client, bufnr, kind, err, result)
  local outcome = { bufnr = bufnr, kind = kind, applied = false, edits = 0, cancelled = false }
  if err then
    outcome.error = err.message or tostring(err)
    notify(kind .. " failed: " .. outcome.error, vim.log.levels.ERROR)
    return outcome
  end
  if not vim.api.nvim_buf_is_valid(bufnr) then
    return outcome
  end
  result = result or {}
  local edits = type(result.edits) == "table" and result.edits or {}
  outcome.edits = #edits
  if result.cancelled then
    outcome.cancelled = true
    notify(kind .. " cancelled")
  elseif #edits == 0 then
    notify(kind == "fill" and "nothing to fill" or "the model left the selection as it was")
  elseif result.version ~= nil and result.version ~= vim.NIL and result.version ~= vim.lsp.util.buf_versions[bufnr] then
    outcome.error = "the buffer changed while diffill was working"
    notify(outcome.error .. "; run it again", vim.log.levels.WARN)
  else
    vim.lsp.util.apply_text_edits(edits, bufnr, client.offset_encoding)
    outcome.applied = true
    outcome.marks = marks.set(bufnr, result.marks, client.offset_encoding)
    local unsure = outcome.marks > 0 and (", %s to check"):format(plural(outcome.marks, "uncertain part")) or ""
    notify((kind == "fill" and ("filled " .. plural(#edits, "hole")) or "rewrote the selection") .. unsure)
  end
  return outcome
end

local function send(client, bufnr, kind, opts)
  counter = counter + 1
  local token = ("diffill-nvim-%d"):format(counter)
  M.own_tokens[token] = true
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, workDoneToken = token }
  if opts.range then
    params.range = opts.range
    params.strength = opts.strength or 1
  end
  local job = { client = client, token = token, kind = kind, on_done = opts.on_done }
  local ok, request_id = lsp.request(client, lsp.FILL, params, function(err, result)
    M.own_tokens[token] = nil
    if not job.dropped then
      finish(bufnr, on_result(client, bufnr, kind, err, result), opts.on_done)
    end
  end, bufnr)
  if ok then
    job.request_id = request_id
    M.active[bufnr] = job
  else
    M.own_tokens[token] = nil
    notify("the diffill server is not running", vim.log.levels.ERROR)
    finish(bufnr, { bufnr = bufnr, kind = kind, applied = false, edits = 0, error = "not running" }, opts.on_done)
  end
end

--- Fill every hole of a buffer, or rewrite `opts.range` of it (waits for the model when it is loading).
---@param opts? { bufnr?: integer, range?: table, strength?: number, on_done?: fun(outcome: table) }
function M.fill(opts)
  opts = opts or {}
  local bufnr = resolve_buf(opts.bufnr)
  local kind = opts.range and "rewrite" or "fill"
  local client = client_or_complain(bufnr)
  if not client then
    return finish(bufnr, { bufnr = bufnr, kind = kind, applied = false, edits = 0, error = "no client" }, opts.on_done)
  end
  local st = status.get(client.id)
  if not st or st.state == "loading" then
    notify("waiting for the model to load…")
  end
  status.when_loaded(client.id, function(loaded)
    if loaded.state == "failed" then
      local msg = "the model could not be loaded: " .. (loaded.error or "unknown error")
      notify(msg, vim.log.levels.ERROR)
      return finish(bufnr, { bufnr = bufnr, kind = kind, applied = false, edits = 0, error = msg }, opts.on_done)
    end
    send(client, bufnr, kind, opts)
  end)
end

--- The LSP range of a command's range: the visual selection (charwise when it was made with `v`),
--- else whole lines line1..line2 (their final newline left out).
---@param bufnr integer
---@param cmd table the command's opts (range, line1, line2)
---@param encoding string the client's offset encoding
function M.command_range(bufnr, cmd, encoding)
  local function line(row)
    return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  end
  local srow, scol, erow, ecol = cmd.line1 - 1, 0, cmd.line2 - 1, #line(cmd.line2 - 1)
  local s = vim.api.nvim_buf_get_mark(bufnr, "<")
  local e = vim.api.nvim_buf_get_mark(bufnr, ">")
  if cmd.range == 2 and vim.fn.visualmode() == "v" and s[1] == cmd.line1 and e[1] == cmd.line2 then
    local last = line(e[1] - 1)
    scol = math.min(s[2], #line(s[1] - 1))
    ecol = e[2] >= #last and #last or e[2] + #vim.fn.strpart(last, e[2], 1, true)
  end
  local util = vim.lsp.util
  return {
    start = { line = srow, character = util.character_offset(bufnr, srow, scol, encoding) },
    ["end"] = { line = erow, character = util.character_offset(bufnr, erow, ecol, encoding) },
  }
end

--- "light", a number in (0, 1], or nothing (1).
local function parse_strength(arg, client)
  if arg == nil or arg == "" then
    return 1
  end
  if arg == "light" then
    local st = status.get(client.id)
    local configured = require("diffill.config").current.light_strength
    return (st and st.settings and st.settings.lightStrength) or configured or 0.4
  end
  local n = tonumber(arg)
  if not n or n <= 0 or n > 1 then
    return nil
  end
  return n
end

--- :[range]DiffillRewrite [strength]
function M.rewrite_command(cmd)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_complain(bufnr)
  if not client then
    return
  end
  local strength = parse_strength(vim.trim(cmd.args or ""), client)
  if not strength then
    return notify(("strength must be a number in (0, 1] or \"light\", got %q"):format(cmd.args), vim.log.levels.ERROR)
  end
  local range = M.command_range(bufnr, cmd, client.offset_encoding)
  if range.start.line == range["end"].line and range.start.character >= range["end"].character then
    return notify("nothing selected to rewrite", vim.log.levels.WARN)
  end
  M.fill({ bufnr = bufnr, range = range, strength = strength })
end

--- "base model (default)" or "adapted to /workspace (/path/to/adapted/model)".
local function serving_line(e)
  local a = e.adaptation or {}
  if e.serving == "adapted" then
    return ("adapted to %s (%s)"):format(a.workspace or "the workspace", e.model or a.model or "?")
  end
  return ("base model (%s)"):format(status.short_model(e.model))
end

--- "running 40% (epoch 1 of 3)", "ready", "failed: ...", or nil when nothing was asked.
local function adaptation_line(a)
  if not a then
    return nil
  end
  local parts = { a.state }
  if a.state == "running" and a.progress then
    table.insert(parts, ("%d%%"):format(math.floor(a.progress * 100 + 0.5)))
  end
  if a.workspace then
    table.insert(parts, a.workspace)
  end
  local text = table.concat(parts, " ")
  if a.message then
    text = text .. (a.state == "failed" and ": " or " (") .. a.message .. (a.state == "failed" and "" or ")")
  end
  return text
end

--- :DiffillStatus
function M.show_status()
  local clients = lsp.clients()
  if #clients == 0 then
    return notify("no diffill server is running (see :checkhealth diffill)", vim.log.levels.WARN)
  end
  for _, client in ipairs(clients) do
    lsp.request(client, lsp.STATUS, vim.empty_dict(), function(err, result, ctx)
      if err then
        return notify("diffill/status failed: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
      end
      status.update(ctx.client_id, result)
      local e = status.get(ctx.client_id) or {}
      local lines = {
        ("server: %s (client %d)"):format(table.concat(client.config.cmd or {}, " "), client.id),
        "state: " .. tostring(e.state),
        "model: " .. tostring(e.model or "bundled default"),
        "device: " .. tostring(e.device or "?"),
        "serving: " .. serving_line(e),
      }
      if e.error then
        table.insert(lines, "error: " .. e.error)
      end
      local adaptation = adaptation_line(e.adaptation)
      if adaptation then
        table.insert(lines, "adaptation: " .. adaptation)
      end
      for _, p in pairs(e.progress or {}) do
        table.insert(lines, ("working: %s %s"):format(p.title or "", p.message or ""))
      end
      notify(table.concat(lines, "\n"))
    end)
  end
end

--- Cancel the fills and rewrites the server runs for a code action or a command (their progress tokens
--- are the server's). Returns whether there was one.
local function cancel_server_jobs(bufnr)
  local client = lsp.get_client(bufnr)
  local st = client and status.get(client.id)
  local found = false
  for token, p in pairs(st and st.progress or {}) do
    local title = p.title or ""
    if not M.own_tokens[token] and (title:find("filling", 1, true) or title:find("rewriting", 1, true)) then
      lsp.notify(client, "window/workDoneProgress/cancel", { token = token })
      found = true
    end
  end
  if found then
    preview.clear(bufnr)
  end
  return found
end

--- :DiffillCancel — stop the fill or rewrite running for the buffer. Once its progress has begun, the
--- server is asked to stop it through the progress token (it answers with `cancelled`); before that, the
--- request itself is cancelled (Neovim then drops the answer) and the outcome is reported here.
function M.cancel(bufnr)
  bufnr = resolve_buf(bufnr)
  local job = M.active[bufnr]
  if not job then
    if cancel_server_jobs(bufnr) then
      return
    end
    return notify("nothing to cancel")
  end
  local st = status.get(job.client.id)
  if st and st.progress[job.token] then
    lsp.notify(job.client, "window/workDoneProgress/cancel", { token = job.token })
    return
  end
  job.dropped = true
  if vim.fn.has("nvim-0.11") == 1 then
    pcall(job.client.cancel_request, job.client, job.request_id)
  else
    pcall(job.client.cancel_request, job.request_id)
  end
  M.own_tokens[job.token] = nil
  notify(job.kind .. " cancelled")
  finish(bufnr, { bufnr = bufnr, kind = job.kind, applied = false, edits = 0, cancelled = true }, job.on_done)
end

--- :DiffillAdapt [folder] — learn a workspace folder now (diffill.adaptNow). Without a folder the server
--- learns its workspace (with several folders: the one holding the buffer).
function M.adapt(cmd)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_or_complain(bufnr) or lsp.clients()[1]
  if not client then
    return
  end
  if not lsp.has_command(client, lsp.CMD_ADAPT_NOW) then
    return notify(("this diffill server has no %s command (it needs a newer diffill)"):format(lsp.CMD_ADAPT_NOW),
      vim.log.levels.ERROR)
  end
  local arguments = {}
  local folder = vim.trim(cmd and cmd.args or "")
  if folder ~= "" then
    local path = vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(folder), ":p"))
    if vim.fn.isdirectory(path) ~= 1 then
      return notify(("%s is not a directory"):format(folder), vim.log.levels.ERROR)
    end
    arguments = { vim.uri_from_fname((path:gsub("/$", ""))) }
  elseif #(client.workspace_folders or {}) > 1 then
    local file = vim.api.nvim_buf_get_name(bufnr)
    for _, wf in ipairs(client.workspace_folders) do
      local root = vim.uri_to_fname(wf.uri)
      if vim.fs.relpath and vim.fs.relpath(root, file) or vim.startswith(file, root .. "/") then
        arguments = { wf.uri }
        break
      end
    end
  end
  local params = { command = lsp.CMD_ADAPT_NOW, arguments = arguments }
  local where = arguments[1] and vim.uri_to_fname(arguments[1]) or "the workspace"
  lsp.request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      return notify("learning the workspace failed: " .. (err.message or tostring(err)), vim.log.levels.ERROR)
    end
    lsp.refresh_status(client)
    result = type(result) == "table" and result or {}
    local message = type(result.message) == "string" and result.message or nil
    if result.started == false then
      notify(message or ("the server did not start learning " .. where), vim.log.levels.WARN)
    else
      notify((message or ("learning " .. where)) .. " (progress: the statusline, :DiffillStatus)")
    end
  end, bufnr)
end

local function complete_strength()
  return { "light", "0.25", "0.5", "0.75", "1" }
end

--- Create the user commands (idempotent).
function M.create()
  local cmd = vim.api.nvim_create_user_command
  cmd("DiffillFill", function()
    M.fill()
  end, { desc = "diffill: fill every hole of the buffer" })
  cmd("DiffillRewrite", M.rewrite_command, {
    desc = "diffill: rewrite the selection ([strength]: light or a number in (0, 1])",
    range = true,
    nargs = "?",
    complete = complete_strength,
  })
  cmd("DiffillStatus", M.show_status, { desc = "diffill: the server's model, device and state" })
  cmd("DiffillCancel", function()
    M.cancel()
  end, { desc = "diffill: stop the running fill or rewrite" })
  cmd("DiffillClearMarks", function()
    marks.clear(0)
  end, { desc = "diffill: remove the uncertain marks of the buffer" })
  cmd("DiffillAdapt", M.adapt, {
    desc = "diffill: learn the workspace now ([folder]: a workspace folder)",
    nargs = "?",
    complete = "dir",
  })
  cmd("DiffillRestart", function()
    lsp.restart(require("diffill.config").current)
  end, { desc = "diffill: restart the language server" })
end

return M
