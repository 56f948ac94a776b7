--- Ghost text through Neovim's own `vim.lsp.inline_completion` (0.12+).
---
--- Neovim asks for completions itself (trigger kind Automatic, one item from diffill) as you type in
--- insert mode. `next`/`prev` cycle the candidates; when only one is shown, `next` first asks the server
--- again with trigger kind Invoked, which samples several candidates.

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

--- Enable ghost text for `bufnr` and set its insert-mode keys.
---@param bufnr integer
---@param config table a resolved diffill config
function M.attach(bufnr, config)
  if not config.inline or not M.available() then
    return
  end
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  local keys = config.keymaps
  map(bufnr, keys.accept, function()
    if M.accept() then
      return ""
    end
    return keys.accept -- nothing shown: the key does what it does without diffill
  end, "diffill: accept the ghost text", true)
  map(bufnr, keys.next, function()
    M.cycle(1)
  end, "diffill: next candidate")
  map(bufnr, keys.prev, function()
    M.cycle(-1)
  end, "diffill: previous candidate")
end

return M
