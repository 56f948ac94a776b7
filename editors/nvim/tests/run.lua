--- End-to-end test driver: drives a real Neovim with diffill.nvim and a real `diffill serve`.
---
---   nvim --headless -u NONE -i NONE --cmd "set rtp^=editors/nvim" -c "luafile editors/nvim/tests/run.lua"
---
--- Environment:
---   DIFFILL_NVIM_CMD    server command as a JSON list (default ["diffill", "serve"]); without a
---                       --log-file, one in the scratch directory is added (the cases read the log)
---   DIFFILL_NVIM_MODEL  checkpoint directory (default: the bundled model)
---   DIFFILL_NVIM_CASES  comma-separated case names (default: all, in order)
---   DIFFILL_NVIM_WORK   scratch directory for fixture copies (default: a temp dir)
---   DIFFILL_NVIM_OUT    write the results here as JSON
---   DIFFILL_NVIM_TIMEOUT_S  per-wait limit (default 90)
---
--- Cases run one after another in a coroutine that yields to Neovim's main loop between steps, so typed
--- keys, insert mode, autocommands and LSP messages all happen as they do for a user. It prints one line
--- per case and exits with status 1 when a case failed.

local here = vim.fs.dirname(vim.fs.normalize(debug.getinfo(1, "S").source:sub(2)))
package.path = here .. "/?.lua;" .. package.path

local T = {
  fixtures = here .. "/fixtures",
  timeout_ms = (tonumber(vim.env.DIFFILL_NVIM_TIMEOUT_S) or 90) * 1000,
  messages = {}, -- every vim.notify, in order
  results = {},
}

local function say(line)
  io.stdout:write(line .. "\n")
  io.stdout:flush()
end

vim.notify = function(msg, level)
  table.insert(T.messages, { msg = tostring(msg), level = level or vim.log.levels.INFO })
  say(("  [notify %s] %s"):format(level or vim.log.levels.INFO, tostring(msg):gsub("\n", " | ")))
end

--- Yield to the main loop for `ms` milliseconds.
function T.sleep(ms)
  local co = assert(coroutine.running(), "T.sleep outside the driver coroutine")
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      say("driver crashed: " .. tostring(err))
      vim.cmd("cquit 2")
    end
  end, ms)
  coroutine.yield()
end

--- Wait until `cond()` returns a truthy value (returned); fail with `what` after the timeout.
function T.wait(what, cond, timeout_ms)
  local deadline = vim.uv.now() + (timeout_ms or T.timeout_ms)
  while true do
    local ok, value = pcall(cond)
    if ok and value then
      return value
    end
    if vim.uv.now() > deadline then
      error(("timed out after %.0f s waiting for %s%s"):format(
        (timeout_ms or T.timeout_ms) / 1000, what, ok and "" or (" (last error: " .. tostring(value) .. ")")), 2)
    end
    T.sleep(50)
  end
end

function T.check(cond, msg, ...)
  if not cond then
    error(select("#", ...) > 0 and msg:format(...) or msg, 2)
  end
  return cond
end

function T.eq(want, got, what)
  if not vim.deep_equal(want, got) then
    error(("%s: expected %s, got %s"):format(what or "value", vim.inspect(want), vim.inspect(got)), 2)
  end
end

--- Type keys as a user would (mappings apply), then let Neovim process them.
function T.type(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "t", false)
  T.sleep(50) -- Neovim reads typeahead before it runs timers again
end

--- Copy a fixture into the scratch directory (a new name each time) and :edit it.
local copies = 0
function T.edit(name)
  copies = copies + 1
  local src = T.fixtures .. "/" .. name
  local dst = ("%s/%d-%s"):format(T.work, copies, name)
  vim.fn.writefile(vim.fn.readfile(src, "b"), dst, "b")
  vim.cmd.edit(vim.fn.fnameescape(dst))
  return vim.api.nvim_get_current_buf(), vim.fn.readfile(src)
end

function T.lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr or 0, 0, -1, false)
end

function T.text(bufnr)
  return table.concat(T.lines(bufnr), "\n") .. "\n"
end

--- Wait for the diffill client on `bufnr` and for its model to be ready.
function T.ready_client(bufnr)
  local lsp = require("diffill.lsp")
  local client = T.wait("the diffill client to attach", function()
    return lsp.get_client(bufnr)
  end)
  local st = T.wait("the model to load", function()
    local s = require("diffill.status").get(client.id)
    return s and s.state ~= "loading" and s
  end)
  T.check(st.state ~= "failed", "the model failed to load: %s", tostring(st.error))
  return client
end

--- Run `fn` (one command) and wait for the `User DiffillDone` it ends with; returns the outcome.
function T.until_done(what, fn)
  local outcome
  local id = vim.api.nvim_create_autocmd("User", {
    pattern = "DiffillDone",
    once = true,
    callback = function(ev)
      outcome = ev.data
    end,
  })
  fn()
  local ok, err = pcall(T.wait, what, function()
    return outcome
  end)
  pcall(vim.api.nvim_del_autocmd, id)
  if not ok then
    error(err, 0)
  end
  return outcome
end

function T.messages_since(i)
  local out = {}
  for k = i + 1, #T.messages do
    table.insert(out, T.messages[k].msg)
  end
  return out
end

local function write_results()
  local out = vim.env.DIFFILL_NVIM_OUT
  if out and out ~= "" then
    vim.fn.writefile({ vim.json.encode({ results = T.results, messages = T.messages }) }, out)
  end
end

local function main()
  T.work = vim.env.DIFFILL_NVIM_WORK
  if not T.work or T.work == "" then
    T.work = vim.fn.tempname()
  end
  vim.fn.mkdir(T.work, "p")
  vim.cmd("filetype on")
  vim.o.swapfile = false
  vim.o.shortmess = vim.o.shortmess .. "F"

  local cases = require("cases")
  cases.setup(T)
  local wanted = {}
  for name in (vim.env.DIFFILL_NVIM_CASES or ""):gmatch("[^,%s]+") do
    wanted[name] = true
  end
  local failed = 0
  for _, case in ipairs(cases.list(T)) do
    if next(wanted) == nil or wanted[case.name] then
      local started = vim.uv.hrtime()
      local mark = #T.messages
      local ok, err = xpcall(case.run, debug.traceback)
      local seconds = (vim.uv.hrtime() - started) / 1e9
      local result = { name = case.name, ok = ok, seconds = seconds, info = case.info or {} }
      if not ok then
        failed = failed + 1
        result.error = tostring(err)
        result.messages = T.messages_since(mark)
        say(("FAIL %s (%.1f s): %s"):format(case.name, seconds, tostring(err)))
      else
        say(("ok   %s (%.1f s)"):format(case.name, seconds))
      end
      table.insert(T.results, result)
      pcall(vim.cmd, "stopinsert")
      T.sleep(50)
    end
  end
  say(("%d passed, %d failed"):format(#T.results - failed, failed))
  write_results()
  vim.cmd(failed > 0 and "cquit 1" or "qall!")
end

vim.schedule(function()
  local co = coroutine.create(function()
    local ok, err = xpcall(main, debug.traceback)
    if not ok then
      say("driver error: " .. tostring(err))
      write_results()
      vim.cmd("cquit 2")
    end
  end)
  local ok, err = coroutine.resume(co)
  if not ok then
    say("driver error: " .. tostring(err))
    vim.cmd("cquit 2")
  end
end)
