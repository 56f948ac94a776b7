"""Pictures of diffill.nvim for its README: Neovim in tmux with the real server, drawn to PNG.

    python editors/nvim/docs/capture.py [--model DIR] [--out editors/nvim/docs]

Neovim runs in a detached tmux session of its own (socket ``diffill-capture``) with this plugin and
``diffill serve`` from the running interpreter's environment, on ``examples/holes.py``. An init file of
its own runs ``:DiffillFill`` once the model is ready and, at the moments worth a picture, redraws, writes a
flag file and holds still for a moment; meanwhile the pane is captured with its colours
(``tmux capture-pane -e -p``) and drawn with Pillow:

- ``preview.png``: the fill while it denoises (the live preview, ░ for tokens still masked);
- ``uncertain.png``: the filled buffer with the parts the model was unsure of marked, the cursor on the
  first (``]u``).

Needs ``tmux`` and Pillow (neither is a dependency of diffill).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
REPO = PLUGIN.parent.parent
SOCKET = "diffill-capture"
COLUMNS, ROWS = 84, 30
SHOTS = ("preview", "uncertain")
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_SIZE = 15

INIT = r"""
vim.opt.runtimepath:prepend(PLUGIN)
vim.o.termguicolors = true
vim.o.swapfile = false
vim.o.number = true
vim.o.laststatus = 2
vim.o.ruler = false
vim.o.showmode = false
vim.o.statusline = " %f %m%=%{v:lua.require'diffill'.statusline()} "
vim.cmd("filetype plugin indent on | syntax on")
require("diffill").setup({ cmd = CMD, model = MODEL, device = "cpu", steps = 32, uncertain_below = 0.6 })

local function hold(name)
  vim.cmd("redrawstatus! | redraw!")
  vim.fn.writefile({}, FLAGS .. "/" .. name)
  vim.uv.sleep(2500) -- the screen stays as it is while the pane is captured
end

-- the preview, once about half of its tokens are still masked
local held = false
vim.api.nvim_create_autocmd("User", { pattern = "DiffillPreview", callback = function(ev)
  if held or ev.data.done or ev.data.spans == 0 then return end
  local text = {}
  local ns = require("diffill.preview").ns
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(ev.data.bufnr, ns, 0, -1, { details = true })) do
    for _, chunk in ipairs(m[4].virt_text or {}) do table.insert(text, chunk[1]) end
  end
  local all = table.concat(text)
  local masked = select(2, all:gsub("\226\150\145", ""))
  local shown = vim.fn.strchars(all)
  if shown > 0 and masked / shown < 0.6 and masked / shown > 0.2 then
    held = true
    hold("preview")
  end
end })

vim.api.nvim_create_autocmd("User", { pattern = "DiffillDone", once = true, callback = function()
  vim.schedule(function()
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    vim.cmd("normal ]u")
    vim.defer_fn(function() hold("uncertain") end, 300)
  end)
end })

local started = false
vim.api.nvim_create_autocmd("User", { pattern = "DiffillStatus", callback = function()
  local st = require("diffill").status(0)
  if not started and st and st.state == "ready" then
    started = true
    vim.defer_fn(function() vim.cmd("DiffillFill") end, 500)
  end
end })
"""


# --- ANSI to cells ---------------------------------------------------------------------------------------

# Neovim's default dark colours, for the few cells that use the 16-colour palette
PALETTE16_HEX = (
    "07080d ffc0b9 b3f6c0 fce094 a6dbff ffcaff 8cf8f7 eef1f8 4f5258 ffc0b9 b3f6c0 fce094 a6dbff ffcaff 8cf8f7 eef1f8"
)
PALETTE16 = [tuple(bytes.fromhex(c)) for c in PALETTE16_HEX.split(" ")]
DEFAULT_FG, DEFAULT_BG = (0xE0, 0xE2, 0xEA), (0x14, 0x16, 0x1B)


def xterm256(n: int) -> tuple[int, int, int]:
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    v = 8 + 10 * (n - 232)
    return v, v, v


@dataclass(frozen=True)
class Style:
    fg: tuple[int, int, int] | None = None
    bg: tuple[int, int, int] | None = None
    sp: tuple[int, int, int] | None = None
    bold: bool = False
    italic: bool = False
    underline: int = 0  # 0 none, 1 straight, 3 curly
    reverse: bool = False


def _rgb(values: list[str]) -> tuple[int, int, int] | None:
    """A colour from the values after 38/48/58: 2;r;g;b (or 2::r:g:b) or 5;n."""
    values = [v for v in values if v != ""]
    if values[:1] == ["2"] and len(values) >= 4:
        return int(values[-3]), int(values[-2]), int(values[-1])
    if values[:1] == ["5"] and len(values) >= 2:
        return xterm256(int(values[1]))
    return None


SIMPLE = {
    0: {},
    1: {"bold": True},
    3: {"italic": True},
    7: {"reverse": True},
    22: {"bold": False},
    23: {"italic": False},
    24: {"underline": 0},
    27: {"reverse": False},
    39: {"fg": None},
    49: {"bg": None},
    59: {"sp": None},
}


def apply_sgr(style: Style, raw: str) -> Style:
    """``style`` after one SGR sequence's parameters (``raw``: "38;2;1;2;3", "4:3", "58:2::1:2:3", ...)."""
    tokens = raw.split(";") if raw else ["0"]
    i = 0
    while i < len(tokens):
        head, *sub = tokens[i].split(":")
        p = int(head or 0)
        i += 1
        if p == 0:
            style = Style()
        elif p in SIMPLE:
            style = replace(style, **SIMPLE[p])
        elif p == 4:
            style = replace(style, underline=int(sub[0] or 1) if sub else 1)
        elif 30 <= p <= 37 or 90 <= p <= 97:
            style = replace(style, fg=PALETTE16[p - 30 if p < 90 else p - 82])
        elif 40 <= p <= 47 or 100 <= p <= 107:
            style = replace(style, bg=PALETTE16[p - 40 if p < 100 else p - 92])
        elif p in (38, 48, 58):
            if not sub:  # the ";" form: 2;r;g;b or 5;n follow as parameters of their own
                take = 4 if i < len(tokens) and tokens[i] == "2" else 2
                sub, i = tokens[i : i + take], i + take
            style = replace(style, **{{38: "fg", 48: "bg", 58: "sp"}[p]: _rgb(sub)})
    return style


def parse(capture: str) -> list[list[tuple[str, Style]]]:
    """The pane as rows of (character, style) cells."""
    rows = []
    style = Style()
    for line in capture.split("\n")[:ROWS]:
        cells: list[tuple[str, Style]] = []
        for m in re.finditer(r"\x1b\[([0-9;:]*)m|\x1b[^\[]|([^\x1b])", line):
            if m.group(1) is not None:
                style = apply_sgr(style, m.group(1))
            elif m.group(2) is not None:
                cells.append((m.group(2), style))
        rows.append(cells)
    return rows


# --- cells to PNG ----------------------------------------------------------------------------------------


def render(rows: list[list[tuple[str, Style]]], out: Path) -> None:
    fonts = {
        (False, False): ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono.ttf"), FONT_SIZE),
        (True, False): ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-Bold.ttf"), FONT_SIZE),
        (False, True): ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-Oblique.ttf"), FONT_SIZE),
        (True, True): ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-BoldOblique.ttf"), FONT_SIZE),
    }
    cw = round(fonts[(False, False)].getlength("M"))
    ch = round(FONT_SIZE * 1.35)
    pad = 10
    image = Image.new("RGB", (COLUMNS * cw + 2 * pad, ROWS * ch + 2 * pad), DEFAULT_BG)
    draw = ImageDraw.Draw(image)
    for y, cells in enumerate(rows):
        for x, (char, s) in enumerate(cells[:COLUMNS]):
            fg, bg = s.fg or DEFAULT_FG, s.bg or DEFAULT_BG
            if s.reverse:
                fg, bg = bg, fg
            left, top = pad + x * cw, pad + y * ch
            if bg != DEFAULT_BG:
                draw.rectangle([left, top, left + cw - 1, top + ch - 1], fill=bg)
            if char.strip():
                draw.text((left, top + 2), char, font=fonts[(s.bold, s.italic)], fill=fg)
            if s.underline:
                line_y = top + ch - 3
                colour = s.sp or fg
                if s.underline == 3:  # curly
                    points = [(left + i, line_y + (1 if (left + i) % 4 < 2 else -1)) for i in range(cw + 1)]
                    draw.line(points, fill=colour, width=1)
                else:
                    draw.line([(left, line_y), (left + cw, line_y)], fill=colour, width=1)
    image = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    image.save(out, optimize=True)


# --- the session -----------------------------------------------------------------------------------------


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=check).stdout


def lua_string(value: object) -> str:
    if value is None:
        return "nil"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_init(work: Path, flags: Path, server: list[str], model: str | None) -> Path:
    init = INIT.replace("PLUGIN", lua_string(PLUGIN)).replace("FLAGS", lua_string(flags))
    init = init.replace("CMD", "{ " + ", ".join(map(lua_string, server)) + " }").replace("MODEL", lua_string(model))
    path = work / "init.lua"
    path.write_text(init, encoding="utf-8")
    return path


def take_pictures(flags: Path, out: Path, timeout: float) -> bool:
    """Capture the pane each time Neovim holds still for a picture; False when one never came."""
    for shot in SHOTS:
        deadline = time.monotonic() + timeout
        while not (flags / shot).exists():
            if time.monotonic() > deadline:
                print(f"no {shot} picture after {timeout:.0f} s", file=sys.stderr)
                return False
            time.sleep(0.05)
        time.sleep(0.3)  # let the terminal take the redraw
        png = out / f"{shot}.png"
        render(parse(tmux("capture-pane", "-e", "-p", "-t", "cap")), png)
        print(f"{png} ({png.stat().st_size // 1024} KiB)")
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="", help="checkpoint directory (default: the bundled model)")
    ap.add_argument("--out", type=Path, default=HERE, help="where the PNGs go")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for each picture")
    args = ap.parse_args()
    nvim, diffill = shutil.which("nvim"), Path(sys.executable).with_name("diffill")
    if nvim is None or shutil.which("tmux") is None or not diffill.exists():
        print("needs nvim, tmux and diffill (in this interpreter's environment)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="diffill-capture-") as tmp:
        work = Path(tmp)
        flags = work / "flags"
        flags.mkdir()
        shutil.copyfile(REPO / "examples" / "holes.py", work / "holes.py")
        server = [str(diffill), "serve", "--log-file", str(work / "server.log")]
        init = write_init(work, flags, server, args.model or None)
        env = f"env TERM=tmux-256color COLORTERM=truecolor HF_HUB_OFFLINE=1 XDG_STATE_HOME={work}/state"
        size = ["-x", str(COLUMNS), "-y", str(ROWS)]
        command = f"{env} {nvim} -u {init} -i NONE holes.py"
        tmux("-f", "/dev/null", "new-session", "-d", "-s", "cap", "-c", str(work), *size, command)
        try:
            return 0 if take_pictures(flags, args.out, args.timeout) else 1
        finally:
            tmux("kill-server", check=False)


if __name__ == "__main__":
    raise SystemExit(main())
