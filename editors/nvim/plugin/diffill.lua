-- diffill.nvim: the commands exist as soon as the plugin is on 'runtimepath'; the server starts on
-- require("diffill").setup({...}).
if vim.g.loaded_diffill then
  return
end
vim.g.loaded_diffill = true

require("diffill.commands").create()
