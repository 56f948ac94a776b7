--- Small helpers shared by the modules: LSP positions <-> buffer byte positions, the buffer of a URI.

local M = {}

local has_011 = vim.fn.has("nvim-0.11") == 1

--- The byte index in `line` of the `index`-th unit of `encoding` ("utf-8" | "utf-16" | "utf-32"),
--- clamped to the line's length.
---@param line string
---@param index integer
---@param encoding string
---@return integer
function M.byte_index(line, index, encoding)
  if index <= 0 then
    return 0
  end
  local ok, col
  if has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, index, false)
  else
    ok, col = pcall(vim.lsp.util._str_byteindex_enc, line, index, encoding)
  end
  if not ok or type(col) ~= "number" then
    return #line
  end
  return math.min(col, #line)
end

--- The buffer row and byte column of an LSP position (clamped to the buffer).
---@param bufnr integer
---@param position { line: integer, character: integer }
---@param encoding string the client's offset encoding
---@return integer row, integer col
function M.from_lsp(bufnr, position, encoding)
  local count = vim.api.nvim_buf_line_count(bufnr)
  local row = position.line
  if row >= count then
    local last = vim.api.nvim_buf_get_lines(bufnr, count - 1, count, false)[1] or ""
    return count - 1, #last
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  return row, M.byte_index(line, position.character, encoding)
end

--- An LSP range as 0-based rows and byte columns: { srow, scol, erow, ecol }.
---@param bufnr integer
---@param range { start: table, ["end"]: table }
---@param encoding string
---@return integer srow, integer scol, integer erow, integer ecol
function M.range_from_lsp(bufnr, range, encoding)
  local srow, scol = M.from_lsp(bufnr, range.start, encoding)
  local erow, ecol = M.from_lsp(bufnr, range["end"], encoding)
  if erow < srow or (erow == srow and ecol < scol) then
    erow, ecol = srow, scol
  end
  return srow, scol, erow, ecol
end

--- The loaded buffer of `uri`, or nil (no buffer is created for it).
---@param uri string
---@return integer?
function M.buf_of_uri(uri)
  if type(uri) ~= "string" then
    return nil
  end
  -- not vim.uri_to_bufnr(): it adds a buffer when none has the name
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.uri_from_bufnr(bufnr) == uri then
      return bufnr
    end
  end
  return nil
end

--- Whether `version` (a notification's document version: a number, or vim.NIL/nil for "the current
--- text") matches what the buffer is now.
function M.version_matches(bufnr, version)
  return version == nil or version == vim.NIL or version == vim.lsp.util.buf_versions[bufnr]
end

--- (row, col) comparison: -1, 0 or 1.
function M.cmp(r1, c1, r2, c2)
  if r1 ~= r2 then
    return r1 < r2 and -1 or 1
  end
  if c1 ~= c2 then
    return c1 < c2 and -1 or 1
  end
  return 0
end

return M
