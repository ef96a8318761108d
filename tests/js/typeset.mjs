// Typeset TeX with MathJax 3 (mathjax-full 3.2.x, the version Anki ships) and report errors.
//
// stdin:  JSON list of {"id": string, "tex": string, "display": bool}
// stdout: JSON list of {"id": string, "ok": bool, "error": string|null}, same order
//
// Unlike Anki (which loads `noerrors` and shows a bad formula as raw text), we want every
// TeX error reported: undefined control sequences, unbalanced braces, bad environments.
// Used by tests/test_render.py; run `npm install` in tests/js first.

import { mathjax } from 'mathjax-full/js/mathjax.js';
import { TeX } from 'mathjax-full/js/input/tex.js';
import { liteAdaptor } from 'mathjax-full/js/adaptors/liteAdaptor.js';
import { RegisterHTMLHandler } from 'mathjax-full/js/handlers/html.js';
import { STATE } from 'mathjax-full/js/core/MathItem.js';
import 'mathjax-full/js/input/tex/base/BaseConfiguration.js';
import 'mathjax-full/js/input/tex/ams/AmsConfiguration.js';
import 'mathjax-full/js/input/tex/newcommand/NewcommandConfiguration.js';
import 'mathjax-full/js/input/tex/configmacros/ConfigMacrosConfiguration.js';
import 'mathjax-full/js/input/tex/boldsymbol/BoldsymbolConfiguration.js';

const PACKAGES = ['base', 'ams', 'newcommand', 'configmacros', 'boldsymbol'];

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function main(items) {
  const adaptor = liteAdaptor();
  RegisterHTMLHandler(adaptor);
  let lastError = null;
  const tex = new TeX({
    packages: PACKAGES,
    formatError(jax, err) {
      lastError = err && err.message ? err.message : String(err);
      return jax.formatError(err);
    },
  });
  const doc = mathjax.document('', { InputJax: tex });
  const results = [];
  for (const item of items) {
    lastError = null;
    let error = null;
    try {
      // Parse to internal MathML only: no output jax is needed to see TeX errors.
      doc.convert(String(item.tex), { display: Boolean(item.display), end: STATE.CONVERT });
      error = lastError;
    } catch (err) {
      error = err && err.message ? err.message : String(err);
    }
    results.push({ id: item.id, ok: error === null, error });
  }
  return results;
}

const input = JSON.parse(await readStdin());
if (!Array.isArray(input)) {
  process.stderr.write('typeset.mjs: expected a JSON list on stdin\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(main(input)) + '\n');
