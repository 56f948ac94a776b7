--- `diffill/prefetch`: when the cursor comes to rest in Normal mode, tell the server where, so that it
--- encodes the context of a ghost text there before the user starts typing (the first ghost text then
--- starts warm).
---
--- Only moves that are not edits count: the buffer's changedtick is remembered at each CursorMoved, and a
--- move that comes with a new tick (`dd`, undo, leaving Insert mode after typing) is not sent. Insert mode
--- needs nothing from here: there Neovim asks for ghost text itself at every cursor move (CursorMovedI),
--- and each answer leaves the server warm.

local inline = require("diffill.inline")
local lsp = require("diffill.lsp")

local M = {}

--- How long the cursor must rest before the server is told (as long as Neovim waits before it asks for
--- ghost text in Insert mode).
local REST_MS = 200

---@class diffill.PrefetchState
---@field client_id integer the diffill client it was attached for
---@field group integer its buffer-local augroup
---@field timer uv.uv_timer_t the rest timer
---@field tick integer the buffer's changedtick at the last CursorMoved

---@type table<integer, diffill.PrefetchState>
local buffers = {}

--- Whether prefetching is wanted in `bufnr` now: the option is not false and ghost text is enabled there.
local function wanted(bufnr)
  return require("diffill.config").current.prefetch ~= false
    and vim.lsp.inline_completion.is_enabled({ bufnr = bufnr })
end

--- Send the notification for the cursor of `win`, unless the rest was broken: the state was dropped, the
--- buffer changed, another window or buffer is current, or the user left Normal mode.
---@param bufnr integer
---@param state diffill.PrefetchState
---@param tick integer changedtick when the rest began
---@param win integer the window the cursor rests in
local function send(bufnr, state, tick, win)
  if buffers[bufnr] ~= state or vim.api.nvim_get_current_win() ~= win or vim.api.nvim_win_get_buf(win) ~= bufnr then
    return
  end
  if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or vim.api.nvim_get_mode().mode ~= "n" or not wanted(bufnr) then
    return
  end
  local client = lsp.get_client(bufnr)
  if not client or client.id ~= state.client_id then
    return
  end
  local position = vim.lsp.util.make_position_params(win, client.offset_encoding).position
  lsp.notify(client, lsp.PREFETCH, { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = position })
end

--- CursorMoved: (re)start the rest timer, or stop it when the move came with an edit.
---@param bufnr integer
---@param state diffill.PrefetchState
local function on_cursor_moved(bufnr, state)
  state.timer:stop()
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local edited = tick ~= state.tick
  state.tick = tick
  if edited then
    return
  end
  local win = vim.api.nvim_get_current_win()
  state.timer:start(REST_MS, 0, vim.schedule_wrap(function()
    send(bufnr, state, tick, win)
  end))
end

--- Stop prefetching in `bufnr`: its autocommands and its timer go.
---@param bufnr integer
function M.detach(bufnr)
  local state = buffers[bufnr]
  if not state then
    return
  end
  buffers[bufnr] = nil
  vim.api.nvim_del_augroup_by_id(state.group)
  state.timer:stop()
  state.timer:close()
end

--- Prefetch in `bufnr` for `client` (a diffill client attached to it), where it has ghost text.
---@param bufnr integer
---@param client vim.lsp.Client
---@param config table a resolved diffill config
function M.attach(bufnr, client, config)
  M.detach(bufnr)
  if not config.inline or not inline.available() or vim.bo[bufnr].buftype ~= "" then
    return
  end
  ---@type diffill.PrefetchState
  local state = {
    client_id = client.id,
    group = vim.api.nvim_create_augroup(("diffill.prefetch.%d"):format(bufnr), { clear = true }),
    timer = assert(vim.uv.new_timer()),
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
  }
  buffers[bufnr] = state
  vim.api.nvim_create_autocmd("CursorMoved", {
    group = state.group,
    buffer = bufnr,
    callback = function()
      on_cursor_moved(bufnr, state)
    end,
  })
  vim.api.nvim_create_autocmd("LspDetach", {
    group = state.group,
    buffer = bufnr,
    callback = function(ev)
      if ev.data.client_id == state.client_id then
        M.detach(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = state.group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

return M
