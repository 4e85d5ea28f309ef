// Optimizely CMP webhook subscriptions (seed 004), over core endpoints with profile 'cmp'.
// CMP registers a webhook with a callback URL, event names and an optional secret (≤ 32
// characters) echoed in the Callback-Secret header of every delivery. Paths follow CMP's Open
// API v3 under a /cmp prefix:
//
//   POST   /cmp/v3/webhooks        {callback_url, events[], secret?} → 201 subscription
//   GET    /cmp/v3/webhooks        → {data: [...], next_cursor}
//   GET    /cmp/v3/webhooks/:id    → subscription
//   PATCH  /cmp/v3/webhooks/:id    {callback_url?, events?, secret? (null removes it), disabled?} → 200 subscription
//                                  (id, created_at, updated_at sent back as read are ignored)
//   DELETE /cmp/v3/webhooks/:id    → 204
//
// The secret is a credential: it is stored as a `hidden` core header named Callback-Secret, so it
// is sealed at rest, masked in API answers and in attempt logs; sent back as answers show it, it
// keeps the stored secret (the core's masked-value rule). Deliveries count as successful on 200 or
// 202 only (see render.ts).
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { checkDestination } from '../../api/destination.js';
import { answers, described } from '../../api/openapi.js';
import { principalOf, requireRole } from '../../api/middleware/auth.js';
import { ApiError, notFound } from '../../api/middleware/errors.js';
import { Cursor } from '../../api/schemas.js';
import { iso } from '../../api/views.js';
import { expectedIfSent, ReadOnlyCreatedAt, ReadOnlyId, ReadOnlyUpdatedAt, recordFields, staleCopy, withoutReadOnly } from '../../api/read-only.js';
import type { AppContext } from '../../app/context.js';
import { saveEndpointUpdate } from '../../app/endpoint-update.js';
import { catalog, filterInProfile } from '../../catalog/index.js';
import { buildEndpoint, EndpointInputError, patchEndpoint } from '../../domain/endpoint.js';
import { newId } from '../../domain/ids.js';
import type { Endpoint, EndpointHeader } from '../../domain/types.js';
import { mask } from '../../signing/secretbox.js';
import { generateSecret } from '../../signing/standard-webhooks.js';
import { credentialElsewhere, eventTypesSent } from '../shared.js';

const TAGS = ['cmp'];
export const CALLBACK_SECRET_HEADER = 'Callback-Secret';

/** The CMP event names of the catalog (asset_added, asset_removed, asset_modified, asset_renditions_created). */
export const cmpEventNames: readonly string[] = catalog.flatMap((d) => (d.names.cmp ? [d.names.cmp] : []));

const CallbackUrl = Type.String({ minLength: 1, maxLength: 2048, description: 'Where events are POSTed.' });
const Events = Type.Array(Type.Enum([...cmpEventNames]), { minItems: 1, maxItems: cmpEventNames.length, uniqueItems: true, description: 'CMP event names.' });
// A secret is visible ASCII; the … of masked values is let through, wherever it is, to the core's
// rules: the secret sent back as answers show it (`abcd…` for one of 8 characters or more) keeps
// the stored secret (patchEndpoint's masked-value rule), any other masked value is a 422 naming
// `secret`, and so is a … elsewhere (no header can carry it), as the native API refuses such a
// header value; the schema's pattern would have answered a 400 that says only "must match".
const Secret = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: '^[\\x21-\\x7e…]+$',
  description:
    'Up to 32 visible ASCII characters, sent back in the Callback-Secret header of every delivery. The secret as answers show it (**** under 8 characters, else its first characters and …) keeps the current one; any other masked value, or a value with … elsewhere (a header cannot carry it), is refused (422 naming secret).',
});

const CreateBody = Type.Object({ callback_url: CallbackUrl, events: Events, secret: Type.Optional(Secret) }, { additionalProperties: false });
const PatchBody = Type.Object(
  {
    callback_url: Type.Optional(CallbackUrl),
    events: Type.Optional(Events),
    secret: Type.Optional(Type.Union([Secret, Type.Null()], { description: 'A new secret, or null to send none. The current secret as answers show it (****, or its first characters and …) keeps it; another masked value, or one with no current secret to keep, is refused (422). A callback_url on another origin (scheme, host and port) needs the secret again: kept, it is refused (422 naming secret).' })),
    disabled: Type.Optional(Type.Boolean()),
    // Taken so that a subscription read, changed and sent back whole is accepted (api/read-only.ts).
    id: ReadOnlyId,
    created_at: ReadOnlyCreatedAt,
    updated_at: ReadOnlyUpdatedAt,
  },
  { additionalProperties: false },
);
const Subscription = Type.Object({
  id: Type.String(),
  callback_url: Type.String(),
  events: Type.Array(Type.String(), { description: 'The filter in CMP names: a wildcard set through the native API as the CMP events it selects; events CMP has no name for are left out.' }),
  secret: Type.Union([Type.String(), Type.Null()], { description: 'Masked; null when none is set.' }),
  disabled: Type.Boolean(),
  created_at: Type.String(),
  updated_at: Type.String(),
});
const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 250, default: 50 })),
  cursor: Type.Optional(Cursor),
});
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

function secretOf(e: Endpoint): EndpointHeader | undefined {
  return e.headers.find((h) => h.name.toLowerCase() === CALLBACK_SECRET_HEADER.toLowerCase());
}

export function cmpView(e: Endpoint): Static<typeof Subscription> {
  const secret = secretOf(e);
  return {
    id: e.id,
    callback_url: e.url,
    events: filterInProfile(e.eventTypes, 'cmp'),
    secret: secret ? mask(secret.value) : null,
    disabled: e.disabled,
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  };
}

const FIELD_NAMES: Readonly<Record<string, string>> = { url: 'callback_url', event_types: 'events', headers: 'secret' };
/** How the core names the secret in its messages: the header it is stored as. */
const SECRET_IN_HEADERS = `headers: the value of "${CALLBACK_SECRET_HEADER}"`;

const CMP_REFUSED =
  '`invalid_subscription`: a field breaks a rule; `ssrf_blocked` or `invalid_url`: callback_url is refused by the SSRF guard. `field` names it, in CMP\'s names';

function cmpError(err: unknown): never {
  if (err instanceof EndpointInputError) {
    const field = FIELD_NAMES[err.field] ?? err.field;
    const prefix = err.message.startsWith(SECRET_IN_HEADERS) ? SECRET_IN_HEADERS : err.message.startsWith(err.field) ? err.field : undefined;
    const message = prefix === undefined ? err.message : field + err.message.slice(prefix.length);
    throw new ApiError(422, 'invalid_subscription', message, field);
  }
  throw err;
}

function secretHeaders(secret: string | null): EndpointHeader[] {
  return secret === null ? [] : [{ name: CALLBACK_SECRET_HEADER, value: secret, type: 'hidden' }];
}

const admin = { preValidation: requireRole('admin') };

/** The account's CMP webhook, or 404: an endpoint of another profile is not found here. */
async function load(ctx: AppContext, accountId: string, id: string): Promise<Endpoint> {
  const e = await ctx.store.getEndpoint(accountId, id);
  if (!e || e.profile !== 'cmp') throw notFound('webhook', id);
  return e;
}

export function registerCmpRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/cmp/v3/webhooks',
    { ...admin, schema: { tags: TAGS, summary: 'Register a webhook (CMP)', body: CreateBody, response: { 201: described('the webhook registered (secret masked)', Subscription), ...answers({ 422: CMP_REFUSED }) } } },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const body = req.body as Static<typeof CreateBody>;
      let endpoint: Endpoint;
      try {
        endpoint = buildEndpoint(
          { url: body.callback_url, eventTypes: body.events, headers: secretHeaders(body.secret ?? null) },
          { id: newId('ep'), accountId, profile: 'cmp', secret: generateSecret(), now: ctx.clock() },
        );
      } catch (err) {
        cmpError(err);
      }
      await checkDestination(ctx, endpoint.url, accountId, 'callback_url');
      await ctx.store.createEndpoint(endpoint);
      return reply.status(201).send(cmpView(endpoint));
    },
  );

  app.get(
    '/cmp/v3/webhooks',
    {
      schema: {
        tags: TAGS,
        summary: 'List webhooks (CMP)',
        querystring: ListQuery,
        response: { 200: described('{data, next_cursor}: a page of webhooks', Type.Object({ data: Type.Array(Subscription), next_cursor: Type.Union([Type.String(), Type.Null()]) })) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof ListQuery>;
      const page = await ctx.store.listEndpoints(principalOf(req).accountId, { profile: 'cmp', cursor: q.cursor, limit: q.limit ?? 50 });
      return { data: page.items.map(cmpView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/cmp/v3/webhooks/:id',
    { schema: { tags: TAGS, summary: 'Get a webhook (CMP)', params: IdParams, response: { 200: described('the webhook (secret masked)', Subscription) } } },
    async (req) => cmpView(await load(ctx, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id)),
  );

  app.patch(
    '/cmp/v3/webhooks/:id',
    {
      ...admin,
      schema: {
        tags: TAGS,
        summary: 'Update a webhook (CMP)',
        description:
          'Changes the fields sent. events as the subscription shows them keeps its filter as it was set (through the native API it may hold a wildcard, or events CMP has no name for). id, created_at and updated_at, which no PATCH sets, may be sent back as read, and are ignored, so a subscription read, changed and sent back whole is taken; another value is refused (422 naming it).',
        params: IdParams,
        body: PatchBody,
        response: { 200: described('the webhook as changed (secret masked)', Subscription), ...answers({ 422: CMP_REFUSED }) },
      },
    },
    async (req) => cmpView(await changeWebhook(ctx, principalOf(req).accountId, (req.params as Static<typeof IdParams>).id, req.body as Static<typeof PatchBody>)),
  );

  app.delete(
    '/cmp/v3/webhooks/:id',
    { ...admin, schema: { tags: TAGS, summary: 'Delete a webhook (CMP)', params: IdParams, response: { 204: described('deleted', Type.Null()) } } },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const { id } = req.params as Static<typeof IdParams>;
      await load(ctx, accountId, id);
      if (!(await ctx.store.deleteEndpoint(accountId, id))) throw notFound('webhook', id);
      ctx.endpointChanged(id);
      return reply.status(204).send();
    },
  );
}

/** The webhook with the fields sent changed, saved unless it changed since the copy sent was read. */
async function changeWebhook(ctx: AppContext, accountId: string, id: string, sent: Static<typeof PatchBody>): Promise<Endpoint> {
  const existing = await load(ctx, accountId, id);
  let updated: Endpoint;
  try {
    const body = withoutReadOnly(sent, recordFields(existing));
    updated = patchEndpoint(
      existing,
      {
        url: body.callback_url,
        eventTypes: eventTypesSent(body.events, existing.eventTypes, 'cmp'),
        disabled: body.disabled,
        headers: body.secret === undefined ? undefined : secretHeaders(body.secret),
      },
      ctx.clock(),
    );
  } catch (err) {
    // Basic auth of a CMP subscription can only have been set through the native API.
    cmpError(credentialElsewhere(err, existing.id, ['auth']));
  }
  if (updated.url !== existing.url) await checkDestination(ctx, updated.url, accountId, 'callback_url');
  if (!(await saveEndpointUpdate(ctx, updated, existing, expectedIfSent(sent, 'updated_at', existing)))) {
    await load(ctx, accountId, existing.id);
    cmpError(staleCopy('updated_at'));
  }
  return updated;
}
