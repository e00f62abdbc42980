// Compiles and executes Noir fixtures with the npm Noir packages; run by
// scripts/noir-fixtures.sh, which installs them and sets NODE_PATH.
//
//   node scripts/noir/build.mjs DIR...
//
// For each DIR (a Noir package: Nargo.toml and src/main.nr) it writes
// DIR/circuit.json, the program artifact as noir_wasm returns it (nargo's
// target/NAME.json: base64 gzipped `bytecode`, `abi`, ...), and, when
// DIR/inputs.json exists, DIR/witness.gz, the gzipped witness stack that
// noir_js returns (nargo execute's target/NAME.gz). Logs go to stderr.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { resolve, join } from 'node:path';

// The packages live in the cache, not beside this script: resolve them
// through NODE_PATH with require (ESM imports ignore NODE_PATH).
const require = createRequire(join(process.env.NODE_PATH ?? '.', 'x.js'));
const { compile_program, createFileManager } = require('@noir-lang/noir_wasm');
const { Noir } = require('@noir-lang/noir_js');

const log = (...args) => console.error(...args);
// noir_wasm prints some progress with console.log; keep stdout clean.
console.log = log;

// writeAtomic writes through a temporary file so an interrupted run never
// leaves a half-written fixture.
function writeAtomic(path, data) {
  writeFileSync(path + '.tmp', data);
  renameSync(path + '.tmp', path);
}

for (const arg of process.argv.slice(2)) {
  const dir = resolve(arg);
  const fm = createFileManager(dir);
  const { program } = await compile_program(fm, undefined, log, () => {});
  // noir_wasm needs an absolute project path and records it in file_map;
  // make the fixture's own files relative (src/main.nr) so the artifact does
  // not depend on where the checkout is.
  for (const file of Object.values(program.file_map ?? {})) {
    if (file.path.startsWith(dir + '/')) file.path = file.path.slice(dir.length + 1);
  }
  writeAtomic(join(dir, 'circuit.json'), JSON.stringify(program));
  const opcodes = program.bytecode.length;
  log(`${arg}: compiled (noir ${program.noir_version}, bytecode ${opcodes} base64 chars)`);

  const inputsPath = join(dir, 'inputs.json');
  if (!existsSync(inputsPath)) continue;
  const inputs = JSON.parse(readFileSync(inputsPath, 'utf8'));
  const noir = new Noir(program);
  const { witness, returnValue } = await noir.execute(inputs);
  if (witness[0] !== 0x1f || witness[1] !== 0x8b) {
    throw new Error(`${arg}: noir_js returned a witness that is not gzip`);
  }
  writeAtomic(join(dir, 'witness.gz'), witness);
  log(`${arg}: executed, witness ${witness.length} bytes, return value ${JSON.stringify(returnValue ?? null)}`);
}
