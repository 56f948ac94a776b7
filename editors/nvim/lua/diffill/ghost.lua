--- Uncertain tokens in ghost text.
---
--- A diffill item carries `command.arguments[1].uncertain`: code-point offsets into its insertText of the
--- tokens the model was unsure of (the `diffill.accepted` command's argument). Neovim draws ghost text as
--- one extmark in one highlight group (ComplHint); after each draw, this redraws that extmark's chunks with
--- those parts in `DiffillGhostUncertain`. It wraps the `show` method of the buffer's completor, which is
--- private API: when it cannot be reached or changes, ghost text shows in one colour. An item whose text
--- was cut at the front (what is left after a partial accept, diffill.inline) says by how many code points
--- in `_diffill_shift`.

local M = {}

--- Byte ranges in `text` of the item's uncertain tokens (code-point offsets, less `shift` of them).
local function uncertain_bytes(item, text)
  local command = item.command
  local args = type(command) == "table" and type(command.arguments) == "table" and command.arguments[1]
  local spans = type(args) == "table" and args.uncertain
  if type(spans) ~= "table" then
    return {}
  end
  local shift = item._diffill_shift or 0
  local length = vim.str_utfindex(text, "utf-32")
  local out = {}
  for _, span in ipairs(spans) do
    if type(span) == "table" and type(span[1]) == "number" and type(span[2]) == "number" then
      local a = math.max(0, span[1] - shift)
      local b = math.min(length, span[2] - shift)
      if b > a then
        table.insert(out, { vim.str_byteindex(text, "utf-32", a, false), vim.str_byteindex(text, "utf-32", b, false) })
      end
    end
  end
  return out
end

--- Chunks of text[from+1 .. to] (bytes), uncertain ranges in DiffillGhostUncertain, the rest in ComplHint.
local function split_chunks(text, from, to, ranges)
  local out = {}
  local pos = from
  while pos < to do
    local hl, stop = "ComplHint", to
    for _, r in ipairs(ranges) do
      if r[1] <= pos and pos < r[2] then
        hl, stop = "DiffillGhostUncertain", math.min(to, r[2])
        break
      elseif r[1] > pos and r[1] < stop then
        stop = r[1]
      end
    end
    table.insert(out, { text:sub(pos + 1, stop), hl })
    pos = stop
  end
  if #out == 0 then
    out[1] = { "", "ComplHint" }
  end
  return out
end

--- Redraw the completor's ghost-text extmark with the current item's uncertain parts in their own group.
local function recolor(c)
  local item = c.current
  if not item or type(item.insert_text) ~= "string" then
    return
  end
  local text = item.insert_text
  local ranges = uncertain_bytes(item, text)
  if #ranges == 0 then
    return
  end
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local marks = ns and vim.api.nvim_buf_get_extmarks(c.bufnr, ns, 0, -1, { details = true }) or {}
  if #marks ~= 1 then
    return
  end
  local id, row, col, details = unpack(marks[1])
  local shown = details.virt_text or {}
  local hint = shown[#shown] and shown[#shown][2] == "ComplHintMore" and shown[#shown] or nil
  local lines = vim.split(text, "\n", { plain = true })
  local first = shown[1] and shown[1][2] == "ComplHint" and shown[1][1] or ""
  local start = #lines[1] - #first -- Neovim leaves out what the line already holds
  local virt_text, virt_lines = nil, {}
  local offset = 0 -- where line i starts in the text
  for i, line in ipairs(lines) do
    local relative = vim.tbl_map(function(r)
      return { r[1] - offset, r[2] - offset }
    end, ranges)
    local chunks = split_chunks(line, i == 1 and start or 0, #line, relative)
    if i == 1 then
      virt_text = chunks
    else
      table.insert(virt_lines, chunks)
    end
    offset = offset + #line + 1
  end
  local last = #virt_lines > 0 and virt_lines[#virt_lines] or virt_text
  if hint then
    table.insert(last, hint)
  end
  vim.api.nvim_buf_set_extmark(c.bufnr, ns, row, col, {
    id = id,
    virt_text = virt_text,
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    virt_text_pos = details.virt_text_pos,
    hl_mode = details.hl_mode or "combine",
  })
end

--- Make a buffer's completor (Neovim's inline-completion object, private) redraw uncertain parts after
--- each show; once per completor, nothing when it is nil or has no `show`.
function M.decorate(c)
  if not c or rawget(c, "_diffill_show") or type(c.show) ~= "function" then
    return
  end
  local show = c.show
  c._diffill_show = true
  c.show = function(self, ...)
    show(self, ...)
    local ok, err = pcall(recolor, self)
    if not ok then
      require("vim.lsp.log").warn("diffill: ghost text colours", err)
    end
  end
end

return M
