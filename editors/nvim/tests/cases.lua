--- The end-to-end cases run by run.lua, in order. Each drives the editor as a user would (commands,
--- visual selections, insert mode, typed keys) and checks structure, never the model's wording: the test
--- model may be random. `case.info` is reported back (pytest checks more with it, e.g. that a filled
--- buffer parses when the bundled model is used).

local M = {}

--- Split `text` on a plain `sep`.
local function split(text, sep)
  return vim.split(text, sep, { plain = true })
end

--- Whether `new` is `original` with only the `marker`s replaced (text between them kept, in order).
local function only_holes_changed(original, marker, new)
  local parts = split(original, marker)
  local first, last = parts[1], parts[#parts]
  if new:sub(1, #first) ~= first then
    return false, "the text before the first hole changed"
  end
  if #last > 0 and new:sub(-#last) ~= last then
    return false, "the text after the last hole changed"
  end
  local pos = #first + 1
  for i = 2, #parts - 1 do
    local s, e = new:find(parts[i], pos, true)
    if not s then
      return false, ("the text between holes %d and %d is gone: %q"):format(i - 1, i, parts[i])
    end
    pos = e + 1
  end
  return true
end

--- Ghost text shown in `bufnr`: the first line (inline/overlay chunks) and the virtual lines below it.
local function ghost_text(bufnr)
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  if not ns then
    return nil
  end
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then
    return nil
  end
  local details = marks[1][4]
  local function join(chunks)
    local out = {}
    for _, chunk in ipairs(chunks or {}) do
      if chunk[2] ~= "ComplHintMore" then -- the "(2/3)" hint is not part of the text
        table.insert(out, chunk[1])
      end
    end
    return table.concat(out)
  end
  local lines = { join(details.virt_text) }
  for _, vl in ipairs(details.virt_lines or {}) do
    table.insert(lines, join(vl))
  end
  return { row = marks[1][2], col = marks[1][3], text = table.concat(lines, "\n"), marks = #marks }
end

--- The candidates Neovim holds for `bufnr` (private state of vim.lsp.inline_completion).
local function candidate_count(bufnr)
  local class = require("vim.lsp._capability").all.inline_completion
  local c = class and class.active[bufnr]
  return c and c:count_items() or 0
end

--- Wait for Neovim's automatic inline-completion request to be answered and its ghost text shown;
--- fail at once (not after the timeout) when the server answered with no item.
local function wait_ghost(T, bufnr, client)
  local class = require("vim.lsp._capability").all.inline_completion
  local items = T.wait("the server to answer the inline completion request", function()
    local c = class.active[bufnr]
    local state = c and c.client_state[client.id]
    return state and state.items
  end)
  T.check(#items > 0, "the server suggested nothing at line %d (the model's output was empty here)",
    vim.api.nvim_win_get_cursor(0)[1])
  return T.wait("ghost text to appear", function()
    return ghost_text(bufnr) and require("diffill.inline").current(bufnr)
  end, 5000)
end

--- inline.py in Insert mode at the end of its line 2 ("    result = a + "), with the ghost text shown.
local function insert_with_ghost(T)
  local bufnr, original = T.edit("inline.py")
  local client = T.ready_client(bufnr)
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  T.type("A")
  T.check(vim.api.nvim_get_mode().mode == "i", "not in insert mode")
  return bufnr, original, wait_ghost(T, bufnr, client)
end

--- The lines of the server's log (`T.server_log`) that contain `text`.
local function log_lines(T, text)
  return vim.tbl_filter(function(line)
    return line:find(text, 1, true) ~= nil
  end, vim.fn.readfile(T.server_log))
end

--- `lines` with LSP-style `range` (a vim.Range, 0-based, byte columns) replaced by `text`.
local function apply(lines, range, text)
  local before = lines[range.start.row + 1]:sub(1, range.start.col)
  local after = lines[range.end_.row + 1]:sub(range.end_.col + 1)
  local new = split(before .. text .. after, "\n")
  local out = {}
  for i = 1, range.start.row do
    table.insert(out, lines[i])
  end
  vim.list_extend(out, new)
  for i = range.end_.row + 2, #lines do
    table.insert(out, lines[i])
  end
  return out
end

function M.list(T)
  local diffill = require("diffill")
  local inline = require("diffill.inline")

  local cases = {}
  local function case(name, run)
    local c = { name = name, info = {} }
    c.run = function()
      return run(c.info)
    end
    table.insert(cases, c)
  end

  case("config", function()
    local config = require("diffill.config")
    local resolved, problems = config.resolve({ steps = 0, device = "gpu", bogus = true, keymaps = { next = false } })
    T.eq(3, #problems, "number of problems")
    T.check(problems[1]:find("device") and problems[3]:find("unknown option"), "problems: %s", vim.inspect(problems))
    T.eq("auto", config.resolve({ device = "auto" }).device, "a valid option is kept")
    T.eq(nil, resolved.steps, "an invalid option falls back to its default")
    T.eq(false, resolved.keymaps.next, "a keymap can be turned off")
    T.eq("<Tab>", resolved.keymaps.accept, "the other keymaps keep their defaults")
    local wire = config.server_settings(config.resolve({ steps = 4, hole_marker = "<FILL>", prefetch = false,
      settings = { candidates = 2 } }))
    T.eq({ languages = { "python" }, steps = 4, holeMarker = "<FILL>", prefetch = false, candidates = 2 }, wire,
      "server settings")
    T.eq("", diffill.statusline(), "no statusline before a server serves the buffer")
  end)

  case("fill", function(info)
    local bufnr = T.edit("holes.py")
    -- No wait for the model: the first case after startup, so :DiffillFill may have to wait for it.
    T.wait("the diffill client to attach", function()
      return require("diffill.lsp").get_client(bufnr)
    end)
    local original = T.text(bufnr)
    local holes = select(2, original:gsub("%?%?%?", ""))
    local mark = #T.messages
    local outcome = T.until_done(":DiffillFill to finish", function()
      vim.cmd("DiffillFill")
    end)
    local text = T.text(bufnr)
    info.original, info.text, info.outcome = original, text, outcome
    T.check(not outcome.error, "the fill failed: %s", tostring(outcome.error))
    T.check(outcome.applied, "no edit was applied (outcome %s)", vim.inspect(outcome))
    T.check(not text:find("???", 1, true), "holes are left:\n%s", text)
    local ok, why = only_holes_changed(original, "???", text)
    T.check(ok, "%s:\n%s", why, text)
    local said = table.concat(T.messages_since(mark), "\n")
    T.check(said:find(("filling %d holes"):format(holes), 1, true), "no progress was shown; messages:\n%s", said)
  end)

  case("attach", function(info)
    local bufnr = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    info.offset_encoding = client.offset_encoding
    local line = T.wait("the statusline to show the model", function()
      local s = diffill.statusline(bufnr)
      return s:find("idle") and s
    end)
    info.statusline = line
    local st = diffill.status(bufnr)
    T.check(line:find(st.device, 1, true), "statusline %q lacks the device %q", line, tostring(st.device))
    T.check(vim.lsp.inline_completion.is_enabled({ bufnr = bufnr }), "inline completion is not enabled")
    local mark = #T.messages
    vim.cmd("DiffillStatus")
    local said = T.wait(":DiffillStatus to answer", function()
      return table.concat(T.messages_since(mark), "\n"):find("state: ready") ~= nil
    end)
    T.check(said, ":DiffillStatus said nothing")
  end)

  case("checkhealth", function(info)
    vim.cmd("checkhealth diffill")
    local lines = T.lines(0)
    info.report = lines
    local text = table.concat(lines, "\n")
    T.check(text:find("diffill version", 1, true), "no version line in:\n%s", text)
    T.check(text:find("server command", 1, true), "no server command line in:\n%s", text)
    for _, l in ipairs(lines) do
      T.check(not l:find("ERROR"), "checkhealth reported an error: %s", l)
    end
    vim.cmd("bwipeout!")
  end)

  case("rewrite_lines", function(info)
    local bufnr, original = T.edit("rewrite.py")
    T.ready_client(bufnr)
    local outcome = T.until_done(":DiffillRewrite to finish", function()
      T.type("5GV6G:DiffillRewrite<CR>") -- a linewise selection, then : (which types '<,'>)
    end)
    local lines = T.lines(bufnr)
    info.text, info.outcome = table.concat(lines, "\n") .. "\n", outcome
    T.check(not outcome.error, "the rewrite failed: %s", tostring(outcome.error))
    T.eq(vim.list_slice(original, 1, 4), vim.list_slice(lines, 1, 4), "lines above the selection")
    local below = #original - 6
    T.eq(vim.list_slice(original, 7), vim.list_slice(lines, #lines - below + 1), "lines below the selection")
    T.check(outcome.applied, "the selection was not rewritten (outcome %s)", vim.inspect(outcome))
  end)

  case("rewrite_charwise", function(info)
    local bufnr, original = T.edit("rewrite.py")
    T.ready_client(bufnr)
    -- line 10 is "    return 2 * math.pi * radius": select "2 * math.pi" characterwise
    local row, line = 10, original[10]
    local s = line:find("2 * math.pi", 1, true)
    local e = s + #"2 * math.pi" - 1
    local outcome = T.until_done(":DiffillRewrite 0.5 to finish", function()
      T.type(("%dG%d|v%d|:DiffillRewrite 0.5<CR>"):format(row, s, e))
    end)
    local lines = T.lines(bufnr)
    local text = table.concat(lines, "\n") .. "\n"
    info.text, info.outcome = text, outcome
    T.check(not outcome.error, "the rewrite failed: %s", tostring(outcome.error))
    local prefix = table.concat(vim.list_slice(original, 1, row - 1), "\n") .. "\n" .. line:sub(1, s - 1)
    local suffix = line:sub(e + 1) .. "\n"
    T.check(text:sub(1, #prefix) == prefix, "the text before the selection changed:\n%s", text)
    T.check(text:sub(-#suffix) == suffix, "the text after the selection changed:\n%s", text)
  end)

  case("inline", function(info)
    local bufnr, original, item = insert_with_ghost(T)
    local shown = ghost_text(bufnr)
    info.insert_text, info.shown = item.insert_text, shown.text
    T.check(type(item.insert_text) == "string" and item.insert_text ~= "", "empty insert text")
    local cursor = vim.api.nvim_win_get_cursor(0)
    local typed = original[item.range.start.row + 1]:sub(item.range.start.col + 1, cursor[2])
    T.eq(item.insert_text, typed .. shown.text, "the ghost text shows the suggestion")
    local expected = apply(original, item.range, item.insert_text)
    T.type("<Tab>")
    T.wait("<Tab> to insert the suggestion", function()
      return vim.deep_equal(T.lines(bufnr), expected)
    end, 10000)
    T.eq("i", vim.api.nvim_get_mode().mode, "mode after accepting")
    T.type("<Esc>")
  end)

  case("inline_type_through", function(info)
    local bufnr = insert_with_ghost(T)
    local shown = ghost_text(bufnr).text
    local before = #log_lines(T, "inline#")
    local first = shown:sub(1, 1)
    info.shown, info.typed = shown, first
    vim.api.nvim_feedkeys(first, "t", false) -- the character the ghost text shows next, typed literally
    local rest = T.wait("the rest of the ghost text", function()
      local g = ghost_text(bufnr)
      return g and g.text == shown:sub(2) and g.text
    end, 5000)
    info.rest = rest
    local answered = T.wait("the request after the keystroke", function()
      local lines = log_lines(T, "inline#")
      return #lines > before and lines[#lines]
    end, 5000)
    info.cached = answered:find("cached=True", 1, true) ~= nil
    T.check(info.cached, "the server ran the model for a keystroke that typed the ghost text: %s", answered)
    T.type("<Esc>")
  end)

  case("inline_cycle", function(info)
    local bufnr = insert_with_ghost(T)
    T.type("<M-]>") -- one candidate shown: asks the server for several (trigger kind Invoked)
    local n = T.wait("several candidates", function()
      local k = candidate_count(bufnr)
      return k > 1 and k
    end)
    info.candidates = n
    local first = inline.current(bufnr)
    T.eq(1, first._index, "index after the invoked request")
    T.type("<M-]>")
    local second = T.wait("the next candidate", function()
      local c = inline.current(bufnr)
      return c and c._index == 2 and c
    end, 5000)
    T.check(second.insert_text ~= first.insert_text, "the candidates are the same")
    local cursor = vim.api.nvim_win_get_cursor(0)
    local line = vim.api.nvim_get_current_line()
    local typed = line:sub(second.range.start.col + 1, cursor[2])
    T.eq(second.insert_text, typed .. ghost_text(bufnr).text, "the ghost text shows the second candidate")
    T.type("<M-[>")
    T.wait("the previous candidate", function()
      local c = inline.current(bufnr)
      return c and c._index == 1
    end, 5000)
    T.type("<Esc>")
    T.check(ghost_text(bufnr) == nil, "ghost text left after leaving insert mode")
  end)

  case("tab_fallback", function()
    local bufnr, original = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    vim.api.nvim_win_set_cursor(0, { 7, 0 })
    T.type("A") -- end of a comment line: the server suggests nothing there
    local class = require("vim.lsp._capability").all.inline_completion
    T.wait("the server's (empty) answer", function()
      local c = class.active[bufnr]
      local state = c and c.client_state[client.id]
      return state and state.items ~= nil
    end)
    T.check(inline.current(bufnr) == nil, "a suggestion in a comment")
    T.type("<Tab>")
    T.wait("<Tab> to insert a tab", function()
      return T.lines(bufnr)[7] == original[7] .. "\t"
    end, 10000)
    T.type("<Esc>")
  end)

  case("prefetch", function(info)
    local bufnr = T.edit("inline.py")
    T.ready_client(bufnr)
    local rest = 600 -- well past the plugin's rest time (200 ms)
    T.sleep(rest) -- the cursor move of :edit settles (on "def": nothing to prefetch there)
    local ok_before = #log_lines(T, "prefetch#- ok")
    T.type("2G$") -- Normal mode, onto the space that ends "    result = a + "
    info.line = T.wait("the server to run a prefetch", function()
      local ok = log_lines(T, "prefetch#- ok")
      return #ok > ok_before and ok[#ok]
    end)
    T.check(info.line:find("warm=", 1, true), "no warm= in the prefetch line %q", info.line)

    -- Nothing of what follows may be sent; each would end where the server has something to prefetch.
    info.before = #log_lines(T, "prefetch#-")
    T.type("Ax ") -- typing (Neovim asks for ghost text itself)
    T.sleep(rest)
    T.type("<Esc>") -- a move, but right after an edit: onto the space just typed
    T.sleep(rest)
    -- prefetch = false in the plugin (the wire setting forced on: the plugin's own check is what counts)
    diffill.setup(vim.tbl_extend("force", T.setup_opts, { prefetch = false, settings = { prefetch = true } }))
    T.type("k") -- onto the ":" of "def add(a, b):"
    T.sleep(rest)
    diffill.setup(T.setup_opts)

    -- A rest now is sent; a prefetch sent above would have been logged before it.
    T.type("4G") -- the empty line below the function
    T.wait("the server to run the prefetch on the empty line", function()
      return #log_lines(T, "prefetch#- ok") > ok_before + 1
    end)
    T.sleep(rest)
    info.after = #log_lines(T, "prefetch#-")
    T.eq(info.before + 1, info.after, "prefetch lines after typing, <Esc>, a move with prefetch = false and a rest")

    -- Coming back to the buffer from another one is a rest too: the first keystroke there starts warm.
    local ok_now = #log_lines(T, "prefetch#- ok")
    vim.cmd("enew")
    T.sleep(rest)
    vim.cmd("buffer " .. bufnr)
    T.wait("a prefetch on entering the buffer again", function()
      return #log_lines(T, "prefetch#- ok") > ok_now
    end)
  end)

  case("code_action_fill", function(info)
    local bufnr = T.edit("holes.py")
    T.ready_client(bufnr)
    local titles = {}
    local changed = false
    vim.api.nvim_buf_attach(bufnr, false, {
      on_lines = function()
        changed = true
      end,
    })
    vim.lsp.buf.code_action({
      apply = true,
      filter = function(action)
        table.insert(titles, action.title)
        return action.title:match("^Fill %d+ holes?$") ~= nil
      end,
    })
    T.wait("the code action's edit", function()
      return changed and not T.text(bufnr):find("???", 1, true)
    end)
    info.titles, info.text = titles, T.text(bufnr)
    T.check(vim.tbl_contains(titles, "Fill 3 holes"), "actions offered: %s", vim.inspect(titles))
  end)

  case("settings", function(info)
    local bufnr = T.edit("holes.py")
    local client = T.ready_client(bufnr)
    local marked = vim.tbl_map(function(l)
      return (l:gsub("%?%?%?", "<HOLE>"))
    end, T.lines(bufnr))
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, marked)
    -- setup() again: the running server gets the new settings (workspace/didChangeConfiguration)
    diffill.setup(vim.tbl_extend("force", T.setup_opts, { hole_marker = "<HOLE>" }))
    T.wait("the server to use the new hole marker", function()
      local reply = client:request_sync("diffill/status", vim.empty_dict(), 2000)
      return reply and reply.result and reply.result.settings.holeMarker == "<HOLE>"
    end)
    local outcome = T.until_done(":DiffillFill to finish", function()
      vim.cmd("DiffillFill")
    end)
    info.text = T.text(bufnr)
    diffill.setup(T.setup_opts)
    T.check(outcome.applied and not info.text:find("<HOLE>", 1, true), "holes left:\n%s", info.text)
  end)

  case("cancel", function(info)
    local bufnr = T.edit("holes.py")
    local client = T.ready_client(bufnr)
    local original = T.text(bufnr)
    -- long holes and many steps, so the fill runs long enough to be stopped
    diffill.setup(vim.tbl_extend("force", T.setup_opts, { steps = 1024, line_length = 200, inline_length = 200,
      end_probability = 0 }))
    T.wait("the server to take the new settings", function()
      local reply = client:request_sync("diffill/status", vim.empty_dict(), 2000)
      return reply and reply.result and reply.result.settings.steps == 1024
    end)
    local started = vim.uv.now()
    local outcome = T.until_done(":DiffillCancel to stop the fill", function()
      vim.cmd("DiffillFill")
      T.wait("the fill's progress to begin", function()
        return next(diffill.status(bufnr).progress) ~= nil
      end)
      info.statusline = diffill.statusline(bufnr) -- while the fill runs
      vim.cmd("DiffillCancel")
    end)
    info.seconds, info.outcome = (vim.uv.now() - started) / 1000, outcome
    diffill.setup(T.setup_opts)
    T.check(outcome.cancelled, "the fill was not cancelled: %s", vim.inspect(outcome))
    T.check(info.statusline:find("filling 3 holes", 1, true), "statusline during the fill: %q", info.statusline)
    T.eq(original, T.text(bufnr), "the buffer after a cancelled fill")
  end)

  case("restart", function(info)
    local bufnr = T.edit("inline.py")
    local old = T.ready_client(bufnr)
    vim.cmd("DiffillRestart")
    local new = T.wait("a new server to attach", function()
      local c = require("diffill.lsp").get_client(bufnr)
      return c and c.id ~= old.id and c
    end)
    T.ready_client(bufnr)
    T.check(old:is_stopped(), "the old server still runs")
    info.clients = { old.id, new.id }
    T.eq(1, #require("diffill.lsp").clients(), "diffill clients after the restart")
  end)

  case("help", function()
    local doc = T.work .. "/doc"
    vim.fn.mkdir(doc, "p")
    local src = vim.api.nvim_get_runtime_file("doc/diffill.txt", false)[1]
    T.check(src, "doc/diffill.txt is not on 'runtimepath'")
    vim.fn.writefile(vim.fn.readfile(src), doc .. "/diffill.txt")
    vim.cmd("helptags " .. vim.fn.fnameescape(doc))
    local tags = table.concat(vim.fn.readfile(doc .. "/tags"), "\n")
    for _, tag in ipairs({ "diffill.txt", "diffill-options", ":DiffillFill", ":DiffillRewrite", "diffill.statusline()",
      "diffill-prefetch" }) do
      T.check(tags:find(tag, 1, true), "no help tag %s", tag)
    end
  end)

  return cases
end

--- `cmd` logging to a file the cases can read (`T.server_log`): its own --log-file, else one in the
--- scratch directory.
local function with_log_file(T, cmd)
  for i, arg in ipairs(cmd) do
    if arg == "--log-file" and cmd[i + 1] then
      T.server_log = cmd[i + 1]
      return cmd
    end
  end
  T.server_log = T.work .. "/server.log"
  return vim.list_extend(vim.deepcopy(cmd), { "--log-file", T.server_log })
end

--- Start diffill the way a user's config does.
function M.setup(T)
  local cmd = vim.env.DIFFILL_NVIM_CMD and vim.json.decode(vim.env.DIFFILL_NVIM_CMD) or { "diffill", "serve" }
  local model = vim.env.DIFFILL_NVIM_MODEL
  vim.cmd("runtime plugin/diffill.lua")
  T.check(vim.fn.exists(":DiffillFill") == 2, "plugin/diffill.lua did not define :DiffillFill")
  T.setup_opts = { cmd = with_log_file(T, cmd), model = model ~= "" and model or nil, device = "cpu" }
  require("diffill").setup(T.setup_opts)
end

return M
