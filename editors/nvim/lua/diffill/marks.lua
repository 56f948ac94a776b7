--- Uncertain marks: the parts of a fill or rewrite whose tokens the model was unsure of.
---
--- They come in the `diffill/fill` result (`marks`, applied with its edits) or in a `diffill/marks`
--- notification (after a command or a code action edited the buffer; each replaces the buffer's marks).
--- Each is an extmark highlighted `DiffillUncertain`, so it moves with the text around it. A mark goes
--- when the text inside it is edited (an edit that only touches its edge leaves it), when a new fill's marks
--- arrive, or with :DiffillClearMarks. `]u`/`[u` jump between them.

local util = require("diffill.util")

local M = {}

M.ns = vim.api.nvim_create_namespace("diffill.marks")

--- Buffers whose edits we watch (nvim_buf_attach): bufnr -> true.
local watched = {}

--- Whether an edit of the old text [s, old_end] (0-based row/col; empty for an insertion) changes text
--- strictly inside the mark [ms, me] (also in old positions).
local function edits_inside(mark, srow, scol, oerow, oecol)
  local msr, msc, mer, mec = mark[2], mark[3], mark[4].end_row, mark[4].end_col
  if util.cmp(srow, scol, oerow, oecol) == 0 then -- an insertion: inside when strictly between the edges
    return util.cmp(msr, msc, srow, scol) < 0 and util.cmp(srow, scol, mer, mec) < 0
  end
  -- a deletion or replacement: when the old text overlaps the mark's text
  return util.cmp(srow, scol, mer, mec) < 0 and util.cmp(oerow, oecol, msr, msc) > 0
end

--- nvim_buf_attach's on_bytes. It runs before the extmarks move with the edit, so the marks are compared
--- with the old text's coordinates. Returns true (detach) once the buffer has no marks left.
local function on_bytes(_, bufnr, _, srow, scol, _, old_rows, old_end_col, _, _, _, _)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })
  if #marks == 0 then
    watched[bufnr] = nil
    return true
  end
  local oerow = srow + old_rows
  local oecol = (old_rows == 0 and scol or 0) + old_end_col
  local hit = {}
  for _, mark in ipairs(marks) do
    if edits_inside(mark, srow, scol, oerow, oecol) then
      table.insert(hit, mark[1])
    end
  end
  if #hit > 0 then
    vim.schedule(function()
      if vim.api.nvim_buf_is_valid(bufnr) then
        for _, id in ipairs(hit) do
          pcall(vim.api.nvim_buf_del_extmark, bufnr, M.ns, id)
        end
        vim.api.nvim_exec_autocmds("User", { pattern = "DiffillMarks", modeline = false, data = { bufnr = bufnr } })
      end
    end)
  end
end

local function watch(bufnr)
  if watched[bufnr] then
    return
  end
  watched[bufnr] = true
  vim.api.nvim_buf_attach(bufnr, false, {
    on_bytes = on_bytes,
    on_detach = function()
      watched[bufnr] = nil
    end,
    on_reload = function()
      M.clear(bufnr)
    end,
  })
end

--- Remove every mark of `bufnr` (0: current).
---@param bufnr? integer
function M.clear(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
    vim.api.nvim_exec_autocmds("User", { pattern = "DiffillMarks", modeline = false, data = { bufnr = bufnr } })
  end
end

--- Replace the marks of `bufnr` with `marks` (LSP `Mark`s: { range, confidence }) in the buffer as it is.
---@param bufnr integer
---@param marks table[]
---@param encoding string the client's offset encoding
---@return integer placed how many marks were placed
function M.set(bufnr, marks, encoding)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local placed = 0
  for _, mark in ipairs(type(marks) == "table" and marks or {}) do
    if type(mark) == "table" and type(mark.range) == "table" then
      local srow, scol, erow, ecol = util.range_from_lsp(bufnr, mark.range, encoding)
      if util.cmp(srow, scol, erow, ecol) < 0 then
        vim.api.nvim_buf_set_extmark(bufnr, M.ns, srow, scol, {
          end_row = erow,
          end_col = ecol,
          hl_group = "DiffillUncertain",
          hl_mode = "combine",
          priority = 150, -- above syntax (treesitter: 100), below diagnostics
          right_gravity = true, -- text typed at either edge stays outside the mark
          end_right_gravity = false,
          undo_restore = false,
          invalidate = true,
        })
        placed = placed + 1
      end
    end
  end
  if placed > 0 then
    watch(bufnr)
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "DiffillMarks", modeline = false, data = { bufnr = bufnr } })
  return placed
end

--- A `diffill/marks` notification: { uri, version, marks }. Marks for another version of the buffer than
--- the one it has now are dropped (their ranges would be wrong).
---@param params table
---@param encoding string
function M.on_notification(params, encoding)
  if type(params) ~= "table" then
    return
  end
  local bufnr = util.buf_of_uri(params.uri)
  if not bufnr or not util.version_matches(bufnr, params.version) then
    return
  end
  M.set(bufnr, params.marks, encoding)
end

--- The marks of `bufnr`: { row, col, end_row, end_col } (0-based, byte columns), in buffer order.
---@param bufnr? integer
---@return table[]
function M.list(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local out = {}
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, M.ns, 0, -1, { details = true })) do
    if not m[4].invalid then
      table.insert(out, { row = m[2], col = m[3], end_row = m[4].end_row, end_col = m[4].end_col, id = m[1] })
    end
  end
  return out
end

--- Move the cursor to the start of the next (`step` 1) or previous (-1) mark, wrapping around.
---@param step integer
---@return boolean moved
function M.jump(step)
  local marks = M.list(0)
  if #marks == 0 then
    vim.notify("diffill: no uncertain marks in this buffer", vim.log.levels.INFO)
    return false
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local target
  if step > 0 then
    for _, m in ipairs(marks) do
      if util.cmp(m.row, m.col, row, col) > 0 then
        target = m
        break
      end
    end
    target = target or marks[1]
  else
    for i = #marks, 1, -1 do
      if util.cmp(marks[i].row, marks[i].col, row, col) < 0 then
        target = marks[i]
        break
      end
    end
    target = target or marks[#marks]
  end
  vim.cmd("normal! m'") -- the jump list, as ]d and [d do
  vim.api.nvim_win_set_cursor(0, { target.row + 1, target.col })
  return true
end

--- Normal-mode keys of `bufnr` for jumping between marks.
---@param bufnr integer
---@param keys table the resolved keymaps
function M.attach(bufnr, keys)
  local function map(lhs, step, desc)
    if lhs then
      vim.keymap.set({ "n", "x", "o" }, lhs, function()
        for _ = 1, vim.v.count1 do
          M.jump(step)
        end
      end, { buffer = bufnr, silent = true, desc = desc })
    end
  end
  map(keys.next_uncertain, 1, "diffill: next uncertain part")
  map(keys.prev_uncertain, -1, "diffill: previous uncertain part")
end

return M
