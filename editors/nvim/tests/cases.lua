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

--- The ghost-text extmark's chunks: { line = i, text, hl } for every chunk (the "(2/3)" hint left out).
local function ghost_chunks(bufnr)
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local marks = ns and vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  local out = {}
  if #marks == 0 then
    return out
  end
  local details = marks[1][4]
  local lines = { details.virt_text or {} }
  vim.list_extend(lines, details.virt_lines or {})
  for i, chunks in ipairs(lines) do
    for _, chunk in ipairs(chunks) do
      local hl = type(chunk[2]) == "table" and chunk[2][#chunk[2]] or chunk[2]
      if hl ~= "ComplHintMore" and chunk[1] ~= "" then
        table.insert(out, { line = i, text = chunk[1], hl = hl })
      end
    end
  end
  return out
end

--- Show a crafted item as if the server had answered it (Neovim's own handler draws it).
local function show_item(bufnr, client, item)
  local c = require("vim.lsp._capability").all.inline_completion.active[bufnr]
  local ctx = { client_id = client.id, bufnr = bufnr, method = "textDocument/inlineCompletion" }
  c:handler(nil, { items = { item } }, ctx)
  return c
end

--- Stop Neovim's automatic inline requests in `bufnr` (so a crafted item stays); returns the undo.
local function hold_requests(bufnr)
  local c = require("vim.lsp._capability").all.inline_completion.active[bufnr]
  c.automatic_request = function(self)
    self:show()
  end
  return function()
    c.automatic_request = nil -- the class's method again
  end
end

--- An LSP range on one line (ASCII text: characters are bytes).
local function lsp_range(l1, c1, l2, c2)
  return { start = { line = l1, character = c1 }, ["end"] = { line = l2, character = c2 } }
end

--- Collect `User <pattern>` events' data until the returned stop() is called.
local function collect(pattern, fn)
  local got = {}
  local id = vim.api.nvim_create_autocmd("User", {
    pattern = pattern,
    callback = function(ev)
      table.insert(got, fn and fn(ev.data) or ev.data)
    end,
  })
  return got, function()
    pcall(vim.api.nvim_del_autocmd, id)
  end
end

--- The text of screen row `row` (1-based) of the current grid.
local function screen_row(row)
  vim.cmd("redraw")
  local out = {}
  for col = 1, vim.o.columns do
    table.insert(out, vim.fn.screenstring(row, col))
  end
  return (table.concat(out):gsub("%s+$", ""))
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
      min_confidence = 0.3, uncertain_below = 0.6, preview = false, adapt = "background", context_tokens = 128,
      settings = { candidates = 2 } }))
    T.eq({ languages = { "python" }, steps = 4, holeMarker = "<FILL>", prefetch = false, minConfidence = 0.3,
      uncertainBelow = 0.6, preview = false, adapt = "background", contextTokens = 128, candidates = 2 }, wire,
      "server settings")
    local _, bad = config.resolve({ adapt = "always", uncertain_below = 2, context_tokens = 1000, min_confidence = -1 })
    T.eq(4, #bad, "invalid new options: " .. vim.inspect(bad))
    T.eq("<C-Right>", resolved.keymaps.accept_word, "accept_word key")
    T.eq("]u", resolved.keymaps.next_uncertain, "next_uncertain key")
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


  case("accept_word", function(info)
    local bufnr, original, item = insert_with_ghost(T)
    local function several_words()
      local g = ghost_text(bufnr)
      return g and inline.next_word(g.text) < #g.text and g.text
    end
    if not several_words() then -- the test model's greedy text may be one long word: try its samples
      T.type("<M-]>")
      local n = T.wait("several candidates", function()
        local k = candidate_count(bufnr)
        return k > 1 and k
      end)
      for _ = 2, n do
        if several_words() then
          break
        end
        T.type("<M-]>")
        T.sleep(100)
      end
      item = inline.current(bufnr)
    end
    local shown = T.check(several_words(), "no candidate of several words: %q", ghost_text(bufnr).text)
    local word = shown:sub(1, inline.next_word(shown))
    info.shown, info.word, info.insert_text = shown, word, item.insert_text
    local before = #log_lines(T, "inline#")
    T.type("<C-Right>")
    T.wait("<C-Right> to insert the next word", function()
      return T.lines(bufnr)[2] == original[2] .. word
    end, 10000)
    T.eq("i", vim.api.nvim_get_mode().mode, "mode after accepting a word")
    T.eq({ 2, #original[2] + #word }, vim.api.nvim_win_get_cursor(0), "cursor after the word")
    T.eq(vim.list_slice(original, 3), vim.list_slice(T.lines(bufnr), 3), "the lines below")
    info.rest = T.wait("the rest of the ghost text", function()
      local g = ghost_text(bufnr)
      return g and g.text == shown:sub(#word + 1) and g.text
    end, 5000)
    -- Neovim asks again after the cursor moved: the server answers from the suggestion it remembers
    -- (a request of before the key may still be answered meanwhile: any answer from memory counts)
    local ok = pcall(T.wait, "an answer from memory after the partial accept", function()
      return #vim.tbl_filter(function(line)
        return line:find("cached=True", 1, true) ~= nil
      end, vim.list_slice(log_lines(T, "inline#"), before + 1)) > 0
    end, 10000)
    info.after = vim.list_slice(log_lines(T, "inline#"), before + 1)
    info.cached = ok
    T.check(ok, "the server ran the model again after a partial accept: %s", vim.inspect(info.after))
    T.wait("the server's answer shown", function()
      local g = ghost_text(bufnr)
      return g and g.text == info.rest
    end, 5000)
    T.type("<Esc>")
  end)

  case("accept_line", function(info)
    -- a two-line item of our own (the test model rarely writes several lines), then the real server
    local bufnr, original = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    local release = hold_requests(bufnr) -- before Insert mode: its first request would replace our item
    vim.api.nvim_win_set_cursor(0, { 2, 0 })
    T.type("A")
    local ok, err = pcall(function()
      show_item(bufnr, client, {
        insertText = original[2] .. "b * 2\n    print(result)",
        range = lsp_range(1, 0, 1, #original[2]),
      })
      T.wait("the crafted ghost text", function()
        local g = ghost_text(bufnr)
        return g and g.text == "b * 2\n    print(result)"
      end, 5000)
      T.type("<M-Right>")
      T.wait("<M-Right> to insert the first line", function()
        local l = T.lines(bufnr)
        return l[2] == original[2] .. "b * 2" and l[3] == "" and l[4] == original[3]
      end, 10000)
      T.eq({ 3, 0 }, vim.api.nvim_win_get_cursor(0), "cursor on the new line")
      info.rest = T.wait("the second line still shown", function()
        local g = ghost_text(bufnr)
        return g and g.text == "    print(result)" and g.text
      end, 5000)
      T.type("<M-Right>") -- the last line: the whole rest of the item
      T.wait("<M-Right> to insert the second line", function()
        return T.lines(bufnr)[3] == "    print(result)"
      end, 10000)
      T.eq(#original + 1, #T.lines(bufnr), "lines after accepting both")
      T.eq({ 3, #"    print(result)" }, vim.api.nvim_win_get_cursor(0), "cursor at the end")
    end)
    release()
    T.type("<Esc>")
    if not ok then
      error(err, 0)
    end
    -- with nothing shown the key keeps its own meaning
    vim.cmd("normal! gg0")
    T.type("A<M-Right>")
    T.eq(original[1], T.lines(bufnr)[1], "<M-Right> with no ghost text changes nothing")
    T.type("<Esc>")
  end)

  case("ghost_uncertain", function(info)
    local bufnr, original = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    local release = hold_requests(bufnr) -- before Insert mode: its first request would replace our item
    vim.api.nvim_win_set_cursor(0, { 2, 0 })
    T.type("A")
    local ok, err = pcall(function()
      -- "b * ä2\n    print(result)": "ä2" (code points 4..6) and "result" on the second line are uncertain
      local added = "b * ä2\n    print(result)"
      local typed = vim.fn.strchars(original[2])
      show_item(bufnr, client, {
        insertText = original[2] .. added,
        range = lsp_range(1, 0, 1, #original[2]),
        command = { title = "", command = "diffill.accepted", arguments = { {
          uri = vim.uri_from_bufnr(bufnr), confidence = 0.4,
          uncertain = { { typed + 4, typed + 6 }, { typed + 7 + 10, typed + 7 + 16 } },
        } } },
      })
      local chunks = T.wait("the crafted ghost text", function()
        local c = ghost_chunks(bufnr)
        return #c > 0 and c
      end, 5000)
      info.chunks = chunks
      local uncertain = vim.tbl_map(function(c)
        return c.line .. ":" .. c.text
      end, vim.tbl_filter(function(c)
        return c.hl == "DiffillGhostUncertain"
      end, chunks))
      T.eq({ "1:ä2", "2:result" }, uncertain, "uncertain chunks")
      local all = table.concat(vim.tbl_map(function(c)
        return c.text
      end, chunks))
      T.eq((added:gsub("\n", "")), all, "the ghost text, whole")
      T.check(vim.fn.hlexists("DiffillGhostUncertain") == 1, "no DiffillGhostUncertain group")
    end)
    release()
    T.type("<Esc>")
    if not ok then
      error(err, 0)
    end
    -- what the server sends: items carry diffill.accepted with the uncertain offsets (when it does)
    local _, _, item = insert_with_ghost(T)
    local args = item.command and item.command.arguments and item.command.arguments[1]
    info.server_command = item.command and item.command.command or false
    if args and type(args.uncertain) == "table" and #args.uncertain > 0 then
      local marked = vim.tbl_filter(function(c)
        return c.hl == "DiffillGhostUncertain"
      end, ghost_chunks(vim.api.nvim_get_current_buf()))
      info.server_uncertain = #marked
      T.check(#marked > 0, "the server's uncertain tokens %s are not drawn", vim.inspect(args.uncertain))
    end
    T.type("<Esc>")
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


  case("marks", function(info)
    local bufnr = T.edit("holes.py")
    local client = T.ready_client(bufnr)
    local marks = require("diffill.marks")
    local seen
    local set = marks.set
    marks.set = function(b, list, encoding) -- see what the fill result carried
      seen = vim.deepcopy(list)
      return set(b, list, encoding)
    end
    local ok, outcome = pcall(T.until_done, ":DiffillFill to finish", function()
      vim.cmd("DiffillFill")
    end)
    marks.set = set
    T.check(ok, tostring(outcome))
    info.outcome, info.reported = outcome, seen
    T.check(outcome.applied, "nothing applied: %s", vim.inspect(outcome))
    T.check(type(seen) == "table" and #seen > 0, "the fill result has no marks (the test model is never sure)")
    local placed = marks.list(bufnr)
    T.eq(#seen, #placed, "marks placed")
    for i, m in ipairs(seen) do
      local srow, scol, erow, ecol = require("diffill.util").range_from_lsp(bufnr, m.range, client.offset_encoding)
      T.eq({ srow, scol, erow, ecol }, { placed[i].row, placed[i].col, placed[i].end_row, placed[i].end_col },
        "mark " .. i)
      local ext = vim.api.nvim_buf_get_extmark_by_id(bufnr, marks.ns, placed[i].id, { details = true })
      T.eq("DiffillUncertain", ext[3].hl_group, "highlight of mark " .. i)
    end
    -- ]u / [u
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    T.type("]u")
    T.eq({ placed[1].row + 1, placed[1].col }, vim.api.nvim_win_get_cursor(0), "]u goes to the first mark")
    T.type("[u")
    T.eq({ placed[#placed].row + 1, placed[#placed].col }, vim.api.nvim_win_get_cursor(0), "[u wraps to the last")
    -- an edit inside the first mark removes it, and only it
    local first = placed[1]
    local inside = first.end_row > first.row and first.col + 1
      or math.floor((first.col + first.end_col) / 2)
    if first.end_row == first.row and first.end_col - first.col < 2 then
      inside = first.col -- a one-byte mark: replace its byte
      vim.api.nvim_buf_set_text(bufnr, first.row, inside, first.row, inside + 1, { "Z" })
    else
      vim.api.nvim_win_set_cursor(0, { first.row + 1, inside })
      T.type("iZ<Esc>")
    end
    T.wait("the edited mark to go", function()
      return #marks.list(bufnr) == #placed - 1
    end, 5000)
    info.after_edit = #marks.list(bufnr)
    vim.cmd("DiffillClearMarks")
    T.eq(0, #marks.list(bufnr), "marks after :DiffillClearMarks")
  end)

  case("marks_code_action", function(info)
    local bufnr = T.edit("holes.py")
    T.ready_client(bufnr)
    local marks = require("diffill.marks")
    vim.lsp.buf.code_action({
      apply = true,
      filter = function(action)
        return action.title:match("^Fill %d+ holes?$") ~= nil
      end,
    })
    T.wait("the code action's edit", function()
      return not T.text(bufnr):find("???", 1, true)
    end)
    -- the action's command (diffill.showMarks) makes the server send diffill/marks
    info.marks = T.wait("diffill/marks after the code action", function()
      local n = #marks.list(bufnr)
      return n > 0 and n
    end, 15000)
  end)

  case("preview", function(info)
    local bufnr = T.edit("holes.py")
    T.ready_client(bufnr)
    local preview = require("diffill.preview")
    local hole_row = 2 -- "    total = ???"
    local events, stop = collect("DiffillPreview", function(data)
      local drawn = #vim.api.nvim_buf_get_extmarks(bufnr, preview.ns, 0, -1, {})
      local pos = vim.fn.screenpos(0, hole_row, 1)
      return { spans = data.spans, done = data.done, cancelled = data.cancelled, extmarks = drawn,
        conceallevel = vim.wo.conceallevel, screen = pos.row > 0 and screen_row(pos.row) or "" }
    end)
    local ok, outcome = pcall(T.until_done, ":DiffillFill to finish", function()
      vim.cmd("DiffillFill")
    end)
    stop()
    T.check(ok, tostring(outcome))
    info.events, info.outcome = events, outcome
    T.check(outcome.applied, "nothing applied: %s", vim.inspect(outcome))
    T.check(#events > 0, "no diffill/preview notification came")
    local drawn = vim.tbl_filter(function(e)
      return e.extmarks > 0 and not e.done
    end, events)
    T.check(#drawn > 0, "no preview was drawn while the fill ran: %s", vim.inspect(events))
    T.check(drawn[1].conceallevel == 2, "conceallevel while previewing: %s", drawn[1].conceallevel)
    T.check(not drawn[1].screen:find("???", 1, true), "the hole still shows under the preview: %q", drawn[1].screen)
    T.check(events[#events].done, "the last notification is not done: %s", vim.inspect(events[#events]))
    T.eq(0, #vim.api.nvim_buf_get_extmarks(bufnr, preview.ns, 0, -1, {}), "preview extmarks after the fill")
    T.eq(nil, preview.shown(bufnr), "preview state after the fill")
    T.eq(0, vim.wo.conceallevel, "conceallevel after the fill")
    T.check(not T.text(bufnr):find("???", 1, true), "holes left")
  end)

  case("preview_escape", function(info)
    local bufnr = T.edit("holes.py")
    local client = T.ready_client(bufnr)
    local original = T.text(bufnr)
    local preview = require("diffill.preview")
    diffill.setup(vim.tbl_extend("force", T.setup_opts, { steps = 1024, line_length = 200, inline_length = 200,
      end_probability = 0 }))
    T.wait("the server to take the new settings", function()
      local reply = client:request_sync("diffill/status", vim.empty_dict(), 2000)
      return reply and reply.result and reply.result.settings.steps == 1024
    end)
    local events, stop = collect("DiffillPreview")
    local ok, outcome = pcall(T.until_done, "<Esc> to stop the fill", function()
      vim.cmd("DiffillFill")
      T.wait("the preview to be drawn", function()
        return preview.shown(bufnr) and #vim.api.nvim_buf_get_extmarks(bufnr, preview.ns, 0, -1, {}) > 0
      end)
      info.mapped = vim.fn.maparg("<Esc>", "n")
      T.type("<Esc>")
    end)
    stop()
    diffill.setup(T.setup_opts)
    T.check(ok, tostring(outcome))
    info.outcome, info.events = outcome, #events
    T.check(info.mapped ~= "", "<Esc> was not mapped during the preview")
    T.check(outcome.cancelled, "the fill was not cancelled: %s", vim.inspect(outcome))
    T.eq(original, T.text(bufnr), "the buffer after <Esc>")
    T.wait("the preview to go", function()
      return preview.shown(bufnr) == nil and #vim.api.nvim_buf_get_extmarks(bufnr, preview.ns, 0, -1, {}) == 0
    end, 5000)
    T.eq("", vim.fn.maparg("<Esc>", "n"), "<Esc> mapping after the preview")
    T.eq(0, vim.wo.conceallevel, "conceallevel after the preview")
  end)

  case("status_serving", function(info)
    local bufnr = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    local status = require("diffill.status")
    local st = diffill.status(bufnr)
    info.serving = st.serving
    T.eq("base", st.serving, "serving")
    local name = status.short_model(st.model)
    local line = diffill.statusline(bufnr)
    info.statusline = line
    T.eq(("diffill %s %s idle"):format(name, st.device), line, "statusline")
    local mark = #T.messages
    vim.cmd("DiffillStatus")
    local said = T.wait(":DiffillStatus to answer", function()
      local text = table.concat(T.messages_since(mark), "\n")
      return text:find("serving: ", 1, true) and text
    end)
    T.check(said:find("serving: base model (" .. name .. ")", 1, true), ":DiffillStatus said: %s", said)
    -- an adapted model and a running adaptation, as diffill/statusChanged would say them
    local handler = client.config.handlers["diffill/statusChanged"] or client.handlers["diffill/statusChanged"]
    local crafted = vim.tbl_extend("force", vim.deepcopy(client:request_sync("diffill/status", vim.empty_dict(), 5000)
      .result), {
      serving = "adapted",
      adaptation = { state = "running", workspace = "/work/repo", progress = 0.4, model = "/cache/adapted/repo",
        message = vim.NIL },
    })
    handler(nil, crafted, { client_id = client.id, method = "diffill/statusChanged" })
    info.adapted = diffill.statusline(bufnr)
    T.eq(("diffill adapted:repo %s idle learning 40%%"):format(st.device), info.adapted, "adapted statusline")
    mark = #T.messages
    vim.cmd("DiffillStatus") -- asks the server again: back to what it says
    T.wait(":DiffillStatus to answer", function()
      return table.concat(T.messages_since(mark), "\n"):find("serving: ", 1, true)
    end)
    T.eq(line, diffill.statusline(bufnr), "statusline after the server's status")
  end)

  case("adapt", function(info)
    -- adapt = "off": the server answers at once and trains nothing (adaptation itself is the server's to test)
    local bufnr = T.edit("inline.py")
    local client = T.ready_client(bufnr)
    local lsp = require("diffill.lsp")
    info.server_has_command = lsp.has_command(client, lsp.CMD_ADAPT_NOW)
    diffill.setup(vim.tbl_extend("force", T.setup_opts, { adapt = "off" }))
    local sent
    local request = lsp.request
    lsp.request = function(c, method, params, handler, b)
      if method == "workspace/executeCommand" then
        sent = vim.deepcopy(params)
      end
      return request(c, method, params, handler, b)
    end
    local mark = #T.messages
    local ok, err = pcall(function()
      T.wait("the server to take adapt = off", function()
        local reply = client:request_sync("diffill/status", vim.empty_dict(), 2000)
        return reply and reply.result and reply.result.settings.adapt == "off"
      end)
      vim.cmd("DiffillAdapt " .. vim.fn.fnameescape(T.work))
    end)
    lsp.request = request
    T.check(ok, tostring(err))
    if not info.server_has_command then
      local said = table.concat(T.messages_since(mark), "\n")
      diffill.setup(T.setup_opts)
      T.check(said:find("no diffill.adaptNow command", 1, true), "no word about the missing command: %s", said)
      return
    end
    T.eq({ command = "diffill.adaptNow", arguments = { vim.uri_from_fname(T.work) } }, sent, "the request")
    local answer = T.wait("the server's answer shown", function()
      for k = mark + 1, #T.messages do
        if T.messages[k].level == vim.log.levels.WARN then
          return T.messages[k].msg
        end
      end
    end)
    info.answer = answer
    diffill.setup(T.setup_opts)
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
      "diffill-prefetch", ":DiffillClearMarks", ":DiffillAdapt", "diffill-marks", "diffill-preview",
      "diffill-partial-accept", "hl-DiffillUncertain", "hl-DiffillGhostUncertain", "hl-DiffillPreview" }) do
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
  -- min_confidence 0: the test model is random, so the confidence gate would hold back every ghost text
  T.setup_opts = { cmd = with_log_file(T, cmd), model = model ~= "" and model or nil, device = "cpu", min_confidence = 0 }
  require("diffill").setup(T.setup_opts)
end

return M
