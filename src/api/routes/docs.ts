// /docs: a readable page generated from the same OpenAPI document the schemas produce.
import type { FastifyInstance } from 'fastify';

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function operationHtml(method: string, path: string, op: Operation): string {
  const params = (op.parameters ?? []).map((p) => `<li><code>${escape(p.name)}</code> (${escape(p.in)}${p.required ? ', required' : ''})</li>`).join('');
  const body = op.requestBody?.content?.['application/json']?.schema;
  const responses = Object.entries(op.responses ?? {}).map(([code, r]) => `<li><code>${escape(code)}</code> ${escape(r.description ?? '')}</li>`).join('');
  return `<section><h3><span class="m">${method.toUpperCase()}</span> <code>${escape(path)}</code></h3>
${[op.summary, op.description].map((text) => (text ? `<p>${escape(text)}</p>` : '')).join('')}${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}
${body ? `<h4>Request body</h4><pre>${escape(JSON.stringify(body, null, 2))}</pre>` : ''}${responses ? `<h4>Responses</h4><ul>${responses}</ul>` : ''}</section>`;
}

interface SecurityScheme {
  type: string;
  name?: string;
  scheme?: string;
  description?: string;
}

/** The ways to send a key, from the document's security schemes: the page says what the API takes. */
function authenticationHtml(schemes: Record<string, SecurityScheme>): string {
  const ways = Object.values(schemes).map((s) => {
    const header = s.type === 'apiKey' ? `${s.name ?? ''}: <key>` : `Authorization: ${(s.scheme ?? '').replace(/^./, (c) => c.toUpperCase())}${s.scheme === 'bearer' ? ' <key>' : ''}`;
    return `<li><code>${escape(header)}</code>${s.description ? `: ${escape(s.description)}` : ''}</li>`;
  });
  return ways.length ? `<p>Authenticate with any of:</p><ul>${ways.join('')}</ul>` : '';
}

export function renderDocs(spec: {
  info?: { title?: string; version?: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, SecurityScheme> };
}): string {
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(spec.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), operationHtml(method, path, op)]);
    }
  }
  const toc = [...byTag.keys()].map((t) => `<a href="#${escape(t)}">${escape(t)}</a>`).join(' · ');
  const about = new Map((spec.tags ?? []).map((t) => [t.name, t.description]));
  const sections = [...byTag]
    .map(([tag, ops]) => {
      const text = about.get(tag);
      return `<h2 id="${escape(tag)}">${escape(tag)}</h2>${text ? `<p>${escape(text)}</p>` : ''}${ops.join('\n')}`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(spec.info?.title ?? 'Herald')} API</title>
<link rel="stylesheet" href="/docs/docs.css"></head><body><main>
<h1>${escape(spec.info?.title ?? 'Herald')} API <small>${escape(spec.info?.version ?? '')}</small></h1>
${(spec.info?.description ?? '').split('\n\n').map((text) => `<p>${escape(text)}</p>`).join('')}
${authenticationHtml(spec.components?.securitySchemes ?? {})}<p>The machine-readable document is at <a href="/openapi.json">/openapi.json</a>.</p>
<nav>${toc}</nav>${sections}</main></body></html>`;
}

const CSS = `body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f7f7f8;color:#1d1d1f}main{max-width:960px;margin:0 auto;padding:24px}
section{background:#fff;border:1px solid #e3e3e6;border-radius:6px;padding:8px 16px;margin:12px 0}h3{font-size:16px}.m{display:inline-block;min-width:64px;font-weight:700;color:#2457c5}
pre{background:#f2f2f4;padding:8px;overflow:auto;font-size:12px;max-height:320px}nav{margin:12px 0}code{font-size:13px}`;

export function registerDocsRoutes(app: FastifyInstance): void {
  let html: string | undefined;
  app.get('/docs', { schema: { hide: true } }, async (_req, reply) => {
    html ??= renderDocs(app.swagger() as Parameters<typeof renderDocs>[0]);
    // Static, but no other site may frame it: the page is served under Herald's own origin.
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; frame-ancestors 'none'")
      .header('x-frame-options', 'DENY')
      .header('x-content-type-options', 'nosniff')
      .send(html);
  });
  app.get('/docs/docs.css', { schema: { hide: true } }, async (_req, reply) => reply.type('text/css').send(CSS));
}
