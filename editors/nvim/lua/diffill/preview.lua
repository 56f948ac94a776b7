--- The live preview of a fill or rewrite: `diffill/preview` notifications drawn over the text they replace.
---
--- Each notification holds, for the spans of the round being denoised, the span's range (in the document
--- version the request read) and its text now; still-masked tokens show as ░. A span's original text is
--- concealed (an extmark `conceal`, plus `conceal_lines` for the lines of a multi-line span) and its preview
--- is drawn in its place: the first line as inline virtual text, the others as virtual lines below. The
--- buffer's text is never touched. Concealing needs 'conceallevel' 2 and 'concealcursor' "nvic": the
--- windows showing the buffer get them while a preview is shown, and their own values back after.
---
--- The last notification of a generation has `done` (its spans hold the final text, and the edit follows: the
--- preview goes with the first change of the buffer, or after a few seconds when none comes) or `cancelled`
--- (it goes at once). A change of the buffer while a preview is shown ends it too. While a generation runs,
--- the `cancel` key (<Esc>) in Normal mode stops it (:DiffillCancel).
---
--- Every notification drawn fires `User DiffillPreview` (data: { bufnr, id, spans, done, cancelled }).

local util = require("diffill.util")

local M = {}

M.ns = vim.api.nvim_create_namespace("diffill.preview")
M.MASK = "\u{2591}" -- PREVIEW_MASK: a still-masked token
local LINGER_MS = 3000 -- how long a finished preview waits for its edit
local has_conceal_lines = vim.fn.has("nvim-0.11") == 1 -- before it, a multi-line span's other lines stay

---@class diffill.PreviewState
---@field id string the generation
---@field client_id integer
---@field spans table<string, integer[]> range key -> its extmark ids
---@field wins table<integer, { conceallevel: integer, concealcursor: string }> windows we changed
---@field done boolean
---@field timer? uv.uv_timer_t
---@field key? { lhs: string, saved: table? } the cancel mapping we set, and the one it shadowed

---@type table<integer, diffill.PreviewState>
M.active = {}

local function fire(bufnr, params, spans)
  vim.api.nvim_exec_autocmds("User", {
    pattern = "DiffillPreview",
    modeline = false,
    data = { bufnr = bufnr, id = params.id, spans = spans, done = params.done == true,
      cancelled = params.cancelled == true },
  })
end

--- Chunks of one preview line: the masked runs as DiffillPreviewMask, the rest as DiffillPreview.
local function chunks(line)
  local out = {}
  local pos = 1
  while pos <= #line do
    local s, e = line:find(M.MASK .. "+", pos)
    if not s then
      table.insert(out, { line:sub(pos), "DiffillPreview" })
      break
    end
    if s > pos then
      table.insert(out, { line:sub(pos, s - 1), "DiffillPreview" })
    end
    table.insert(out, { line:sub(s, e), "DiffillPreviewMask" })
    pos = e + 1
  end
  if #out == 0 then
    out[1] = { "", "DiffillPreview" }
  end
  return out
end

--- Conceal needs these in every window showing the buffer; the window's own values are kept.
local function conceal_windows(bufnr, state)
  for _, win in ipairs(vim.fn.win_findbuf(bufnr)) do
    if not state.wins[win] then
      state.wins[win] = { conceallevel = vim.wo[win].conceallevel, concealcursor = vim.wo[win].concealcursor }
      vim.wo[win].conceallevel = 2
      vim.wo[win].concealcursor = "nvic"
    end
  end
end

local function restore_windows(state)
  for win, saved in pairs(state.wins) do
    if vim.api.nvim_win_is_valid(win) then
      vim.wo[win].conceallevel = saved.conceallevel
      vim.wo[win].concealcursor = saved.concealcursor
    end
  end
  state.wins = {}
end

--- Draw one span: conceal its text and show `text` in its place. Returns the extmark ids.
local function draw_span(bufnr, srow, scol, erow, ecol, text)
  local set = vim.api.nvim_buf_set_extmark
  local ids = {}
  local lines = vim.split(text, "\n", { plain = true })
  local multi = #lines > 1 or erow > srow
  local first_line = vim.api.nvim_buf_get_lines(bufnr, srow, srow + 1, false)[1] or ""
  if multi then
    -- the rest of the last line follows the preview's last line; everything from scol is hidden
    local last = vim.api.nvim_buf_get_lines(bufnr, erow, erow + 1, false)[1] or ""
    lines[#lines] = lines[#lines] .. last:sub(ecol + 1)
    if #first_line > scol then
      table.insert(ids, set(bufnr, M.ns, srow, scol, { end_row = srow, end_col = #first_line, conceal = "" }))
    end
    if erow > srow and has_conceal_lines then
      table.insert(ids, set(bufnr, M.ns, srow + 1, 0, { end_row = erow, end_col = 0, conceal_lines = "" }))
    end
  elseif ecol > scol then
    table.insert(ids, set(bufnr, M.ns, srow, scol, { end_row = srow, end_col = ecol, conceal = "" }))
  end
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, chunks(lines[i]))
  end
  table.insert(ids, set(bufnr, M.ns, srow, scol, {
    virt_text = chunks(lines[1]),
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
    right_gravity = false,
    priority = 200,
  }))
  return ids
end

local function set_cancel_key(bufnr, state)
  local lhs = require("diffill.config").current.keymaps.cancel
  if not lhs or state.key then
    return
  end
  local saved = vim.fn.maparg(lhs, "n", false, true)
  state.key = { lhs = lhs, saved = (saved.buffer == 1) and saved or nil }
  vim.keymap.set("n", lhs, function()
    require("diffill.commands").cancel(bufnr)
  end, { buffer = bufnr, silent = true, desc = "diffill: cancel the running fill or rewrite" })
end

local function drop_cancel_key(bufnr, state)
  local key = state.key
  state.key = nil
  if not key or not vim.api.nvim_buf_is_valid(bufnr) then
    return
  end
  pcall(vim.keymap.del, "n", key.lhs, { buffer = bufnr })
  if key.saved then
    vim.api.nvim_buf_call(bufnr, function()
      pcall(vim.fn.mapset, "n", false, key.saved)
    end)
  end
end

local function stop_timer(state)
  local timer = state.timer
  state.timer = nil
  if timer and not timer:is_closing() then
    timer:stop()
    timer:close()
  end
end

--- Remove the preview of `bufnr` (its extmarks, the cancel key, the window options).
---@param bufnr integer
function M.clear(bufnr)
  local state = M.active[bufnr]
  if not state then
    return
  end
  M.active[bufnr] = nil
  stop_timer(state)
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
  drop_cancel_key(bufnr, state)
  restore_windows(state)
end

--- Any change of the buffer ends its preview: the ranges were those of the text the request read.
local function watch(bufnr, state)
  vim.api.nvim_buf_attach(bufnr, false, {
    on_lines = function()
      if M.active[bufnr] ~= state then
        return true -- detach
      end
      pcall(vim.api.nvim_buf_clear_namespace, bufnr, M.ns, 0, -1) -- now, before the next redraw
      vim.schedule(function()
        if M.active[bufnr] == state then
          M.clear(bufnr)
        end
      end)
      return true
    end,
  })
end

local function start(bufnr, id, client_id)
  ---@type diffill.PreviewState
  local state = { id = id, client_id = client_id, spans = {}, wins = {}, done = false }
  M.active[bufnr] = state
  watch(bufnr, state)
  set_cancel_key(bufnr, state)
  return state
end

--- A `diffill/preview` notification from client `client_id`.
---@param params table { uri, version, id, spans, done?, cancelled? }
---@param client_id integer
function M.on_notification(params, client_id)
  if type(params) ~= "table" or type(params.id) ~= "string" then
    return
  end
  local bufnr = util.buf_of_uri(params.uri)
  if not bufnr then
    return
  end
  local state = M.active[bufnr]
  local mine = state and state.id == params.id
  if params.cancelled == true or not util.version_matches(bufnr, params.version) then
    if mine then -- cancelled, or the buffer changed since the request read it
      M.clear(bufnr)
    end
    fire(bufnr, params, 0)
    return
  end
  if state and not mine then -- a newer generation of this buffer
    M.clear(bufnr)
  end
  if not mine then
    state = start(bufnr, params.id, client_id)
  end
  local client = vim.lsp.get_client_by_id(client_id)
  local encoding = client and client.offset_encoding or "utf-16"
  conceal_windows(bufnr, state)
  for _, span in ipairs(type(params.spans) == "table" and params.spans or {}) do
    if type(span) == "table" and type(span.range) == "table" and type(span.text) == "string" then
      local srow, scol, erow, ecol = util.range_from_lsp(bufnr, span.range, encoding)
      local key = ("%d:%d:%d:%d"):format(srow, scol, erow, ecol)
      for _, old in ipairs(state.spans[key] or {}) do
        vim.api.nvim_buf_del_extmark(bufnr, M.ns, old)
      end
      state.spans[key] = draw_span(bufnr, srow, scol, erow, ecol, span.text)
    end
  end
  if params.done == true then
    state.done = true
    drop_cancel_key(bufnr, state)
    stop_timer(state)
    state.timer = vim.defer_fn(function()
      if M.active[bufnr] == state then
        M.clear(bufnr)
      end
    end, LINGER_MS)
  end
  fire(bufnr, params, vim.tbl_count(state.spans))
end

--- Whether a preview is shown in `bufnr`, and its generation id.
---@param bufnr integer
---@return string?
function M.shown(bufnr)
  local state = M.active[bufnr]
  return state and state.id or nil
end

return M
