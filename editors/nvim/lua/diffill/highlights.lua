--- diffill's highlight groups, all defined with `default = true` so that a colorscheme or the user's own
--- `:highlight` wins. Defined again on ColorScheme (a colorscheme clears them).
---
---   DiffillUncertain       text of a fill or rewrite the model was unsure of (link: DiagnosticUnderlineWarn)
---   DiffillGhostUncertain  uncertain tokens inside ghost text (ComplHint's colour, dimmer, italic)
---   DiffillPreview         the text of a fill or rewrite while it denoises (link: ComplHint)
---   DiffillPreviewMask     its still-masked tokens, drawn as ░ (link: NonText)

local M = {}

local group = vim.api.nvim_create_augroup("diffill.highlights", { clear = true })

--- The colour `amount` (0..1) of the way from `a` to `b` (24-bit RGB numbers).
local function mix(a, b, amount)
  local out = 0
  for shift = 16, 0, -8 do
    local x = math.floor(a / 2 ^ shift) % 256
    local y = math.floor(b / 2 ^ shift) % 256
    out = out + math.floor(x + (y - x) * amount + 0.5) * 2 ^ shift
  end
  return out
end

--- ComplHint (the ghost text group), italic, and its colour moved 35% towards the background when both
--- colours are known.
local function ghost_uncertain()
  local hint = vim.api.nvim_get_hl(0, { name = "ComplHint", link = false })
  local normal = vim.api.nvim_get_hl(0, { name = "Normal", link = false })
  local spec = { fg = hint.fg, ctermfg = hint.ctermfg, italic = true, cterm = { italic = true } }
  if hint.fg and normal.bg then
    spec.fg = mix(hint.fg, normal.bg, 0.35)
  end
  return spec
end

function M.define()
  local set = vim.api.nvim_set_hl
  set(0, "DiffillUncertain", { link = "DiagnosticUnderlineWarn", default = true })
  set(0, "DiffillGhostUncertain", vim.tbl_extend("force", ghost_uncertain(), { default = true }))
  set(0, "DiffillPreview", { link = "ComplHint", default = true })
  set(0, "DiffillPreviewMask", { link = "NonText", default = true })
end

--- Define the groups now and after every :colorscheme.
function M.setup()
  M.define()
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = M.define })
end

return M
