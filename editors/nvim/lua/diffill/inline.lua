--- Ghost text through Neovim's own `vim.lsp.inline_completion` (0.12+).
---
--- Neovim asks for completions itself (trigger kind Automatic, one item from diffill) as you type in
--- insert mode. `next`/`prev` cycle the candidates; when only one is shown, `next` first asks the server
--- again with trigger kind Invoked, which samples several candidates.
---
--- Partial accept (`accept_word`, `accept_line`): Neovim 0.12 has no API for it, so the plugin accepts
--- through `vim.lsp.inline_completion.get({ on_accept })` and inserts only the next word or line of what
--- the item adds; the rest stays shown (the same item, its range moved), and the next automatic request is
--- answered by the server from the suggestion it remembers (typing through a suggestion never waits for
--- the model).
---
--- Uncertain tokens of ghost text get their own colour: diffill.ghost.

local lsp = require("diffill.lsp")

local M = {}

--- Whether this Neovim has LSP inline completion.
function M.available()
  return vim.lsp.inline_completion ~= nil
end

--- Neovim's per-buffer completor (a private object; nil when it cannot be reached).
local function completor(bufnr)
  local ok, capability = pcall(require, "vim.lsp._capability")
  local all = ok and type(capability) == "table" and capability.all or nil
  local class = all and all.inline_completion
  return class and class.active and class.active[bufnr] or nil
end

--- The candidate shown in `bufnr` (0: current): { insert_text, range, client_id, ... } or nil.
function M.current(bufnr)
  bufnr = bufnr == 0 and vim.api.nvim_get_current_buf() or (bufnr or vim.api.nvim_get_current_buf())
  local c = completor(bufnr)
  return c and c.current or nil
end

--- Candidates held for `bufnr` (across clients), or nil when unknown.
local function count(bufnr)
  local c = completor(bufnr)
  return c and c.count_items and c:count_items() or nil
end

--- Accept the shown candidate. Returns false when none is shown.
function M.accept()
  if not M.available() then
    return false
  end
  return vim.lsp.inline_completion.get()
end

-- Partial accept ----------------------------------------------------------------------------------------

local function is_continuation(text, i)
  local b = text:byte(i)
  return b ~= nil and b >= 0x80 and b < 0xC0
end

--- Bytes of the next word of `text`: a line break with the next line's indentation, or blanks followed by
--- a run of word characters or a run of punctuation ("a + b" -> "a", " +", " b").
function M.next_word(text)
  local nl = text:match("^\r?\n[ \t]*")
  if nl then
    return #nl
  end
  local ws = text:match("^[ \t]*")
  local rest = text:sub(#ws + 1)
  local run = rest:match("^[%w_\128-\255]+") or rest:match("^[^%w_%s\128-\255]+") or ""
  return #ws + #run
end

--- Bytes of the next line of `text`: up to and with the line break that ends its first line with text
--- (leading line breaks are taken along), or all of it.
function M.next_line(text)
  local lead = #text:match("^[\r\n]*")
  local nl = text:find("\n", lead + 1, true)
  return nl or #text
end

--- (row, col) after `text` inserted at (row, col).
local function advance(row, col, text)
  local lines = vim.split(text, "\n", { plain = true })
  if #lines == 1 then
    return row, col + #text
  end
  return row + #lines - 1, #lines[#lines]
end

--- Where a partial accept inserts and what, for `item` in `bufnr` with the cursor at (crow, ccol): nil
--- when only a full accept makes sense (a snippet, no range, an item that changes text before the
--- cursor, or the pick takes everything the item adds).
---@param pick fun(piece: string): integer bytes of `piece` to take
local function plan_partial(bufnr, item, crow, ccol, pick)
  local r = item.range
  if type(item.insert_text) ~= "string" or not r then
    return nil
  end
  local srow, scol, erow, ecol = r.start.row, r.start.col, r.end_.row, r.end_.col
  if crow < srow or (crow == srow and ccol < scol) then
    return nil
  end
  local old = table.concat(vim.api.nvim_buf_get_text(bufnr, srow, scol, erow, ecol, {}), "\n")
  local new = item.insert_text
  local typed = #table.concat(vim.api.nvim_buf_get_text(bufnr, srow, scol, crow, ccol, {}), "\n")
  -- the changed stretch: old[p+1 .. #old-s] becomes new[p+1 .. #new-s]
  local p = 0
  while p < #old and p < #new and old:byte(p + 1) == new:byte(p + 1) do
    p = p + 1
  end
  while p > 0 and is_continuation(new, p + 1) do
    p = p - 1
  end
  if p < typed then
    return nil -- the item rewrites text before the cursor
  end
  local s = 0
  while s < #old - p and s < #new - p and old:byte(#old - s) == new:byte(#new - s) do
    s = s + 1
  end
  while s > 0 and is_continuation(new, #new - s + 1) do
    s = s - 1
  end
  local piece = new:sub(p + 1, #new - s)
  local k = pick(piece)
  while k < #piece and is_continuation(piece, k + 1) do
    k = k + 1
  end
  if k <= 0 or k >= #piece then
    return nil
  end
  local at_row, at_col = advance(srow, scol, old:sub(1, p))
  local insertion = piece:sub(1, k)
  return {
    row = at_row,
    col = at_col,
    text = insertion,
    -- the item's range once the insertion is in
    range_text = old:sub(1, p) .. insertion .. old:sub(p + 1),
  }
end

--- The item that shows what is left of `item` after a partial accept: the same insert text over the
--- range grown by the insertion, starting at the cursor's line (lines above it are accepted as they are).
local function rest_item(bufnr, item, plan, crow)
  local srow, scol = item.range.start.row, item.range.start.col
  local erow, ecol = advance(srow, scol, plan.range_text)
  local text, shift = item.insert_text, 0
  if crow > srow then
    local dropped = 0
    for _ = 1, crow - srow do
      dropped = text:find("\n", dropped + 1, true) or #text
    end
    shift = vim.str_utfindex(text:sub(1, dropped), "utf-32")
    text, srow, scol = text:sub(dropped + 1), crow, 0
  end
  local rest = vim.tbl_extend("force", {}, item)
  rest.insert_text = text
  rest.range = vim.range(srow, scol, erow, ecol, { buf = bufnr })
  rest._diffill_shift = (item._diffill_shift or 0) + shift
  return rest
end

--- Accept all of `item`: Neovim's own accept (the edit, then the item's command), or the same done here
--- when Neovim's object cannot be reached.
local function accept_whole(c, bufnr, win, item)
  if c and c.accept then
    return c:accept(item)
  end
  if type(item.insert_text) ~= "string" then
    return
  end
  local r = item.range
  local cursor = vim.api.nvim_win_get_cursor(win)
  local srow, scol = r and r.start.row or cursor[1] - 1, r and r.start.col or cursor[2]
  local erow, ecol = r and r.end_.row or srow, r and r.end_.col or scol
  vim.api.nvim_buf_set_text(bufnr, srow, scol, erow, ecol, vim.split(item.insert_text, "\n", { plain = true }))
  local row, col = advance(srow, scol, item.insert_text)
  vim.api.nvim_win_set_cursor(win, { row + 1, col })
  local client = item.command and vim.lsp.get_client_by_id(item.client_id)
  if client then
    client:exec_cmd(item.command, { bufnr = bufnr })
  end
end

--- Accept the next piece (`pick` of what the item adds) of the shown candidate. Returns false when none
--- is shown. When the piece is all that is left, the whole candidate is accepted (its command runs).
---@param pick fun(piece: string): integer
---@return boolean
function M.accept_part(pick)
  if not M.available() then
    return false
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local c = completor(bufnr)
  return vim.lsp.inline_completion.get({
    on_accept = function(item)
      local win = vim.api.nvim_get_current_win()
      local cursor = vim.api.nvim_win_get_cursor(win)
      local plan = plan_partial(bufnr, item, cursor[1] - 1, cursor[2], pick)
      if not plan then
        return accept_whole(c, bufnr, win, item)
      end
      vim.api.nvim_buf_set_text(bufnr, plan.row, plan.col, plan.row, plan.col,
        vim.split(plan.text, "\n", { plain = true }))
      local row, col = advance(plan.row, plan.col, plan.text)
      vim.api.nvim_win_set_cursor(win, { row + 1, col })
      if c and completor(bufnr) == c and c.show then
        -- show the rest now; Neovim's next request (after the cursor move) brings the server's answer
        c.current = rest_item(bufnr, item, plan, row)
        c:show()
      end
    end,
  })
end

function M.accept_word()
  return M.accept_part(M.next_word)
end

function M.accept_line()
  return M.accept_part(M.next_line)
end

-- Candidates --------------------------------------------------------------------------------------------

--- Ask the diffill server for several candidates (trigger kind Invoked) and show the first.
---@return boolean requested
function M.invoke(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = lsp.get_client(bufnr)
  local c = completor(bufnr)
  if not client or not c or not c.handler then
    return false
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = vim.lsp.protocol.InlineCompletionTriggerKind.Invoked }
  lsp.request(client, "textDocument/inlineCompletion", params, function(err, result, ctx)
    if vim.api.nvim_get_mode().mode:sub(1, 1) ~= "i" or completor(bufnr) ~= c then
      return -- left insert mode meanwhile
    end
    -- Only this client's items are replaced; the others stay as Neovim got them.
    c:handler(err, result, ctx)
  end, bufnr)
  return true
end

--- Move by `step` candidates; with at most one candidate, ask for more first.
function M.cycle(step)
  if not M.available() then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local n = count(bufnr)
  if n ~= nil and n <= 1 and M.invoke(bufnr) then
    return
  end
  vim.lsp.inline_completion.select({ count = step })
end

local function map(bufnr, lhs, rhs, desc, expr)
  if lhs and lhs ~= false then
    vim.keymap.set("i", lhs, rhs, { buffer = bufnr, expr = expr, silent = true, desc = desc })
  end
end

--- An expr mapping that runs `fn` and falls back to the key itself when nothing is shown.
local function or_key(fn, lhs)
  return function()
    if fn() then
      return ""
    end
    return lhs -- nothing shown: the key does what it does without diffill
  end
end

--- Enable ghost text for `bufnr` and set its insert-mode keys.
---@param bufnr integer
---@param config table a resolved diffill config
function M.attach(bufnr, config)
  if not config.inline or not M.available() then
    return
  end
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  local ghost = require("diffill.ghost")
  ghost.decorate(completor(bufnr))
  vim.api.nvim_create_autocmd("InsertEnter", {
    group = vim.api.nvim_create_augroup(("diffill.inline.%d"):format(bufnr), { clear = true }),
    buffer = bufnr,
    callback = function()
      ghost.decorate(completor(bufnr)) -- one made after attach (Neovim makes a new one as clients come and go)
    end,
  })
  local keys = config.keymaps
  map(bufnr, keys.accept, or_key(M.accept, keys.accept), "diffill: accept the ghost text", true)
  map(bufnr, keys.accept_word, or_key(M.accept_word, keys.accept_word), "diffill: accept the next word", true)
  map(bufnr, keys.accept_line, or_key(M.accept_line, keys.accept_line), "diffill: accept the next line", true)
  map(bufnr, keys.next, function()
    M.cycle(1)
  end, "diffill: next candidate")
  map(bufnr, keys.prev, function()
    M.cycle(-1)
  end, "diffill: previous candidate")
end

return M
