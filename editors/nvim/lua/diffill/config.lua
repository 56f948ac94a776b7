--- Options of diffill.nvim: defaults, validation, and the server settings they turn into.
---
--- `resolve(opts)` merges the user's options over the defaults. An option that fails its check keeps its
--- default and is reported; every problem goes into one message (as the server does for its settings).

local M = {}

--- Server settings that may be given as top-level options: option name -> { wire name, check }.
--- nil (the default) leaves the setting to the server (`diffill serve` flags, then its own defaults).
local function int(lo, hi)
  return function(v)
    return type(v) == "number" and v == math.floor(v) and v >= lo and v <= hi, ("an integer in %d..%d"):format(lo, hi)
  end
end

local function num(lo, hi, open_low)
  return function(v)
    local ok = type(v) == "number" and (open_low and v > lo or v >= lo) and v <= hi
    return ok, ("a number in %s%s, %s]"):format(open_low and "(" or "[", lo, hi)
  end
end

local function one_of(choices)
  return function(v)
    return vim.tbl_contains(choices, v), "one of " .. table.concat(choices, ", ")
  end
end

local function is_bool(v)
  return type(v) == "boolean", "true or false"
end

local function nonempty_line(v)
  return type(v) == "string" and v:match("%S") ~= nil and not v:find("\n"), "a non-empty string on one line"
end

local function directory(v)
  return type(v) == "string" and v ~= "", "a checkpoint directory path"
end

M.server_options = {
  model = { "model", directory }, -- checkpoint directory; nil: the bundled model
  device = { "device", one_of({ "auto", "cpu", "cuda" }) },
  dtype = { "dtype", one_of({ "auto", "float32", "bfloat16", "float16", "int8" }) },
  threads = { "threads", int(0, 256) }, -- torch CPU threads; 0: one per physical core
  compile = { "compile", one_of({ "off", "default", "reduce-overhead", "max-autotune" }) }, -- GPU: CUDA graphs
  steps = { "steps", int(1, 1024) }, -- denoising steps (at most)
  line_length = { "lineLength", int(1, 512) }, -- token budget of a line (or a hole on its own line)
  multiline_length = { "multilineLength", int(1, 1024) }, -- token budget of a block after an opener
  inline_length = { "inlineLength", int(1, 512) }, -- token budget of the rest of a line
  end_probability = { "endProbability", num(0, 1) }, -- a hole ends where P(end) first reaches this; 0: off
  hole_marker = { "holeMarker", nonempty_line }, -- "???" by default
  temperature = { "temperature", num(0, 5) }, -- sampling temperature of invoked candidates
  candidates = { "candidates", int(1, 16) }, -- how many candidates an invoked request samples
  debounce_ms = { "debounceMs", int(0, 5000) }, -- server-side wait before generating (the least, when adaptive)
  adaptive_debounce = { "adaptiveDebounce", is_bool }, -- wait for a pause, from your typing speed
  debounce_max_ms = { "debounceMaxMs", int(0, 5000) }, -- the longest adaptive wait
  light_strength = { "lightStrength", num(0, 1, true) }, -- strength of a light rewrite
  complete_in_comments = { "completeInComments", is_bool },
  complete_in_strings = { "completeInStrings", is_bool },
  multiline_on_empty_line = { "multilineOnEmptyLine", is_bool },
  prefetch = { "prefetch", is_bool }, -- tell the server where the cursor rests (false: the plugin sends nothing)
  min_confidence = { "minConfidence", num(0, 1) }, -- automatic ghost text only when the fill is this sure
  uncertain_below = { "uncertainBelow", num(0, 1) }, -- mark tokens of fills/rewrites below this; 0: no marks
  preview = { "preview", is_bool }, -- draw fills and rewrites while they denoise (diffill/preview)
  adapt = { "adapt", one_of({ "off", "manual", "background" }) }, -- learning the workspace (:DiffillAdapt)
  adapt_minutes = { "adaptMinutes", num(0, 240, true) }, -- training time of one adaptation
  context_tokens = { "contextTokens", int(0, 384) }, -- tokens of the workspace's own code put before a fill
}

--- Defaults of the editor-side options (documented in :help diffill-options).
M.defaults = {
  cmd = { "diffill", "serve" }, -- the server command (stdio)
  filetypes = { "python" }, -- where the server starts (also sent as its `languages`)
  root_markers = { "pyproject.toml", "setup.py", "setup.cfg", ".git" },
  inline = true, -- ghost text through vim.lsp.inline_completion (Neovim 0.12+)
  progress = true, -- vim.notify when a fill or rewrite starts and ends
  settings = {}, -- extra server settings, camelCase wire names; they win over the options above
  keymaps = {
    accept = "<Tab>", -- insert mode: accept the ghost text, else a normal <Tab>
    accept_word = "<C-Right>", -- insert mode: accept the ghost text's next word, else the key's own action
    accept_line = "<M-Right>", -- insert mode: accept the ghost text's next line, else the key's own action
    next = "<M-]>", -- insert mode: next candidate (asks the server for several when one is shown)
    prev = "<M-[>", -- insert mode: previous candidate
    next_uncertain = "]u", -- normal/visual mode: next uncertain part of a fill or rewrite
    prev_uncertain = "[u", -- normal/visual mode: previous uncertain part
    cancel = "<Esc>", -- normal mode, while a fill or rewrite is previewed: cancel it
  },
}

local function is_list_of_strings(v, allow_empty)
  if type(v) ~= "table" or (not allow_empty and #v == 0) then
    return false
  end
  for i, s in pairs(v) do
    if type(i) ~= "number" or type(s) ~= "string" or s == "" then
      return false
    end
  end
  return true
end

local function keymap_value(v)
  return v == false or (type(v) == "string" and v ~= "")
end

--- Editor option name -> (check, what it must be).
local checks = {
  cmd = { function(v) return is_list_of_strings(v) end, "a non-empty list of strings" },
  filetypes = { function(v) return is_list_of_strings(v) end, "a non-empty list of filetypes" },
  root_markers = { function(v) return is_list_of_strings(v, true) end, "a list of file names" },
  inline = { function(v) return type(v) == "boolean" end, "true or false" },
  progress = { function(v) return type(v) == "boolean" end, "true or false" },
  settings = { function(v) return type(v) == "table" end, "a table of server settings" },
  keymaps = {
    function(v)
      if type(v) ~= "table" then
        return false
      end
      for k, key in pairs(v) do
        if M.defaults.keymaps[k] == nil or not keymap_value(key) then
          return false
        end
      end
      return true
    end,
    "a table with accept/accept_word/accept_line/next/prev/next_uncertain/prev_uncertain/cancel, each a key"
      .. " (string) or false",
  },
}

--- Check one value with vim.validate (its message names the option), or with our own check.
---@return string? problem
local function validate(name, value, check, expected)
  local function fn(v)
    return check(v) and true or false
  end
  local ok, err
  if vim.fn.has("nvim-0.11") == 1 then
    ok, err = pcall(vim.validate, name, value, fn, expected)
  else
    ok, err = pcall(vim.validate, { [name] = { value, fn, expected } })
  end
  if ok then
    return nil
  end
  return (tostring(err):gsub("^.-:%d+: ", ""))
end

--- Merge `opts` over the defaults.
---@param opts table|nil
---@return table config, string[] problems
function M.resolve(opts)
  opts = opts or {}
  local problems = {}
  if type(opts) ~= "table" then
    return vim.deepcopy(M.defaults), { "setup() takes a table of options" }
  end
  local config = vim.deepcopy(M.defaults)
  for name, value in pairs(opts) do
    local server = M.server_options[name]
    local check = checks[name]
    local problem
    if server then
      problem = validate(name, value, function(v)
        return (server[2](v))
      end, select(2, server[2](value)))
    elseif check then
      problem = validate(name, value, check[1], check[2])
    else
      problem = ("unknown option %q"):format(tostring(name))
    end
    if problem then
      table.insert(problems, problem)
    elseif name == "keymaps" then
      config.keymaps = vim.tbl_extend("force", config.keymaps, value)
    else
      config[name] = vim.deepcopy(value)
    end
  end
  table.sort(problems)
  return config, problems
end

--- The settings sent to the server (camelCase, section `diffill`); unset options are left out.
---@param config table a resolved config
---@return table
function M.server_settings(config)
  local out = { languages = vim.deepcopy(config.filetypes) }
  for name, spec in pairs(M.server_options) do
    if config[name] ~= nil then
      out[spec[1]] = config[name]
    end
  end
  if out.model then
    out.model = vim.fs.normalize(vim.fn.fnamemodify(vim.fs.normalize(out.model), ":p"))
  end
  return vim.tbl_extend("force", out, config.settings or {})
end

--- The config in force (set by setup()); the defaults before it.
M.current = vim.deepcopy(M.defaults)

return M
