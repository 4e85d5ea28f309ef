// The receiver SDK as a customer's project gets it: the built package (dist/, which the global
// setup builds) under node_modules/herald of a scratch project, imported by name. Its exports
// load at run time from ES modules and CommonJS, and their declarations type-check, without an
// `any`, under every module resolution a TypeScript project may use.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let project: string;

beforeAll(() => {
  project = tempDir('herald-consumer-');
  mkdirSync(path.join(project, 'node_modules'));
  symlinkSync(ROOT, path.join(project, 'node_modules', 'herald'), 'dir');
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** Writes `files` into a fresh folder of the scratch project (with its own package.json type). */
function folder(name: string, type: 'module' | 'commonjs', files: Record<string, string>): string {
  const dir = path.join(project, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type }));
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text);
  return dir;
}

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('herald/verify and herald/types, installed', () => {
  it('load by name from an ES module and from CommonJS, and verify a signed delivery', () => {
    const check = `
      const body = '{"type":"asset.created"}';
      const at = new Date();
      const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new verifyModule.Webhook(SECRET).sign('msg_1', at, body) };
      let code;
      try { verifyModule.verify({ headers, body: '{}', secret: SECRET }); } catch (err) { code = err instanceof verifyModule.WebhookVerificationError && err.code; }
      console.log(JSON.stringify({
        verified: verifyModule.verify({ headers, body, secret: SECRET }).body,
        code,
        names: typesModule.eventTypeNames['asset.created'].mediapocket,
        root: typeof rootModule.verify === 'function' && rootModule.catalog.length > 0,
      }));`;
    const esm = folder('esm-run', 'module', {
      'main.js': `import * as verifyModule from 'herald/verify';\nimport * as typesModule from 'herald/types';\nimport * as rootModule from 'herald';\nconst SECRET = ${JSON.stringify(SECRET)};\n${check}`,
    });
    const cjs = folder('cjs-run', 'commonjs', {
      'main.js': `const verifyModule = require('herald/verify');\nconst typesModule = require('herald/types');\nconst rootModule = require('herald');\nconst SECRET = ${JSON.stringify(SECRET)};\n${check}`,
    });
    for (const dir of [esm, cjs]) {
      const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8' });
      expect(JSON.parse(out), dir).toEqual({ verified: { type: 'asset.created' }, code: 'invalid_signature', names: 'ASSET_ADDED', root: true });
    }
  });

  // What a receiver writes: Node's req.headers and a fetch Request, typed payloads, the errors.
  const consumer = `
    import type { IncomingMessage } from 'node:http';
    import { verify, Webhook, WebhookVerificationError, type VerifiedWebhook, type StandardPayload } from 'herald/verify';
    import type { TenovosPayload, HeraldEventType } from 'herald/types';
    import { catalog } from 'herald';

    export function fromNode(req: IncomingMessage, raw: Buffer): string {
      const delivery: VerifiedWebhook<StandardPayload<'asset.created'>> = verify<StandardPayload<'asset.created'>>({ headers: req.headers, body: raw, secret: 'whsec_x' });
      new Webhook('whsec_x').verify(raw, req.headers);
      return delivery.body.type;
    }
    export async function fromFetch(request: Request): Promise<string> {
      try {
        return verify({ headers: request.headers, body: await request.arrayBuffer(), secret: ['whsec_a', 'whsec_b'] }).id;
      } catch (err) {
        return err instanceof WebhookVerificationError ? err.code : 'other';
      }
    }
    export const tenovosName: TenovosPayload<'asset.created'>['eventType'] = 'asset.created';
    export const known: HeraldEventType = 'asset.created';
    export const count: number = catalog.length;
  `;

  it.each([
    ['ES module, NodeNext', 'module', { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }],
    ['CommonJS, NodeNext', 'commonjs', { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }],
    ['bundler', 'module', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }],
    // The default of "module": "commonjs", what many Express and NestJS projects still compile with.
    ['CommonJS, node10', 'commonjs', { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, esModuleInterop: true }],
  ] as const)('type-check for a consumer compiled as %s, with no any in their declarations', (label, type, options) => {
    const dir = folder(`types-${label.replace(/\W+/g, '-')}`, type, { 'consumer.ts': consumer });
    const program = ts.createProgram([path.join(dir, 'consumer.ts')], {
      ...options,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules', '@types')],
    });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || !d.file.fileName.includes('/node_modules/@types/') && !d.file.fileName.includes('/typescript/lib/'))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(errors, label).toEqual([]);

    const declarations = program.getSourceFiles().filter((f) => f.fileName.startsWith(path.join(ROOT, 'dist')));
    expect(declarations.map((f) => path.relative(ROOT, f.fileName))).toEqual(
      expect.arrayContaining(['dist/signing/verify.d.ts', 'dist/signing/payload-types.d.ts', 'dist/index.d.ts']),
    );
    const anys = declarations.flatMap((file) => {
      const found: string[] = [];
      const visit = (node: ts.Node): void => {
        if (node.kind === ts.SyntaxKind.AnyKeyword) found.push(`${path.relative(ROOT, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`);
        ts.forEachChild(node, visit);
      };
      visit(file);
      return found;
    });
    expect(anys).toEqual([]);
  });
});
