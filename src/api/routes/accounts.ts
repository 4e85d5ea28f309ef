// Tenancy: accounts (operator only), projects and API keys of the key's account.
//
// The operator's key (HERALD_ADMIN_KEY, or the key generated on first start) is an admin of the
// default account and may act on any other account by sending `X-Herald-Account: <account id>`
// (see actingAccount below). Every other key only ever sees its own account: another account's
// ids answer 404.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static, type TSchema } from 'typebox';
import type { AppContext } from '../../app/context.js';
import type { Account, ApiKeyRecord, Project } from '../../domain/types.js';
import { generateApiKey, hashKey, principalOf, requireRole } from '../middleware/auth.js';
import { ApiError, notFound } from '../middleware/errors.js';
import { answers, described } from '../openapi.js';
import { IdParams, PageQuery, PROJECT_ID_PATTERN, ProjectPageQuery } from '../schemas.js';
import { iso } from '../views.js';

export const ACCOUNT_HEADER = 'x-herald-account';

/** Text for the OpenAPI description: how an operator acts on another account. */
export const ACCOUNT_HEADER_DOC =
  'Operator keys (HERALD_ADMIN_KEY) manage accounts under /api/v2/accounts and act as admin of the default account. ' +
  'To act on another account, an operator sends the header `X-Herald-Account: <account id>` with any request; ' +
  'other keys may only name their own account (403 otherwise). Every route is scoped to the acting account: ' +
  "another account's ids answer 404.";

/**
 * onRequest hook, after authentication: an operator key naming another account in
 * X-Herald-Account acts as an admin of that account for this request.
 */
export function actingAccount(ctx: AppContext) {
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers[ACCOUNT_HEADER];
    if (header === undefined || req.principal === undefined) return;
    const p = req.principal;
    if (typeof header !== 'string' || header.length === 0 || header.length > 100) {
      throw new ApiError(400, 'invalid_request', 'X-Herald-Account must name one account id', 'X-Herald-Account');
    }
    if (header === p.accountId) return;
    if (!p.operator) throw new ApiError(403, 'forbidden', 'only an operator key may act on another account (X-Herald-Account)');
    if (!(await ctx.store.getAccount(header))) throw notFound('account', header);
    req.principal = { ...p, accountId: header };
  };
}

function requireOperator() {
  return async (req: FastifyRequest): Promise<void> => {
    if (!principalOf(req).operator) throw new ApiError(403, 'forbidden', 'only the operator key (HERALD_ADMIN_KEY) manages accounts');
  };
}

// ---- schemas --------------------------------------------------------------------------------

// `type: [integer, null]` rather than a union: the API's type coercion would turn 0 into null
// inside a union (ajv coerces 0 to null), silently meaning "unlimited".
const RateLimit = Type.Unsafe<number | null>({
  type: ['integer', 'null'],
  minimum: 1,
  maximum: 100_000,
  description: 'Messages per second across all endpoints of the account; null: unlimited.',
});
const LinkBaseUrl = Type.Union([Type.String({ minLength: 1, maxLength: 2048 }), Type.Null()], {
  description: 'Base URL of the DAM API, used for links in thin payloads (CMP profile), e.g. https://api.example.com',
});

const AccountCreate = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }), rate_limit_per_second: Type.Optional(RateLimit), link_base_url: Type.Optional(LinkBaseUrl) },
  { additionalProperties: false },
);
const AccountPatch = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), rate_limit_per_second: Type.Optional(RateLimit), link_base_url: Type.Optional(LinkBaseUrl) },
  { additionalProperties: false },
);
const AccountView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  rate_limit_per_second: Type.Union([Type.Integer(), Type.Null()]),
  link_base_url: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});

const ProjectCreate = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        pattern: PROJECT_ID_PATTERN,
        description: "The DAM's own project id (events carry it as project_id); generated when omitted.",
      }),
    ),
    name: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
const ProjectView = Type.Object({ id: Type.String(), name: Type.String(), created_at: Type.String() });

const Role = Type.Union([Type.Literal('admin'), Type.Literal('publisher'), Type.Literal('viewer')]);
const ApiKeyCreate = Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), role: Role }, { additionalProperties: false });
const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  operator: Type.Boolean(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  created_at: Type.String(),
});
const CurrentKeyView = Type.Object({
  id: Type.String(),
  account_id: Type.String({ description: 'The account the request acts on (for an operator key, the one named in X-Herald-Account if any).' }),
  role: Role,
  operator: Type.Boolean(),
});
const ApiKeyCreated = Type.Object({ ...ApiKeyView.properties, key: Type.String({ description: 'The key itself. Shown once: only its hash is stored.' }) });

const list = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });

// ---- views ----------------------------------------------------------------------------------

export function accountView(a: Account): Static<typeof AccountView> {
  return { id: a.id, name: a.name, rate_limit_per_second: a.rateLimitPerSecond, link_base_url: a.linkBaseUrl, created_at: iso(a.createdAt)! };
}

function projectView(p: Project): Static<typeof ProjectView> {
  return { id: p.id, name: p.name, created_at: iso(p.createdAt)! };
}

function apiKeyView(k: ApiKeyRecord): Static<typeof ApiKeyView> {
  return { id: k.id, name: k.name, role: k.role, operator: k.operator, prefix: k.prefix, created_at: iso(k.createdAt)! };
}

const LINK_BASE_REFUSED = '`invalid_account`: link_base_url is not an http(s) URL without credentials, query or fragment';

/** An http(s) URL without credentials, stored without its trailing slash. */
function linkBase(value: string | null | undefined): string | null | undefined {
  if (value === undefined || value === null) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError(422, 'invalid_account', 'link_base_url is not a valid URL', 'link_base_url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ApiError(422, 'invalid_account', 'link_base_url must be an http or https URL', 'link_base_url');
  if (url.username || url.password || url.search || url.hash) {
    throw new ApiError(422, 'invalid_account', 'link_base_url must not carry credentials, a query or a fragment', 'link_base_url');
  }
  return value.replace(/\/+$/, '');
}

// ---- routes ---------------------------------------------------------------------------------

export function registerAccountRoutes(app: FastifyInstance, ctx: AppContext): void {
  registerAccounts(app, ctx);
  registerProjects(app, ctx);
  registerApiKeys(app, ctx);
}

const operator = { preValidation: requireOperator() };
const admin = { preValidation: requireRole('admin') };

/** Accounts: the operator creates, lists and changes them; a key reads its own. */
function registerAccounts(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/accounts',
    { ...operator, schema: { tags: ['accounts'], summary: 'Create an account (operator)', body: AccountCreate, response: { 201: described('the account created', AccountView), ...answers({ 422: LINK_BASE_REFUSED }) } } },
    async (req, reply) => {
      const body = req.body as Static<typeof AccountCreate>;
      const account = await ctx.store.createAccount({ name: body.name, rateLimitPerSecond: body.rate_limit_per_second ?? null, linkBaseUrl: linkBase(body.link_base_url) ?? null });
      return reply.status(201).send(accountView(account));
    },
  );

  app.get(
    '/api/v2/accounts',
    { ...operator, schema: { tags: ['accounts'], summary: 'List accounts (operator)', querystring: PageQuery, response: { 200: described('{data, next_cursor}: a page of accounts', list(AccountView)) } } },
    async (req) => {
      const q = req.query as Static<typeof PageQuery>;
      const page = await ctx.store.listAccounts({ cursor: q.cursor, limit: q.limit ?? 50 });
      return { data: page.items.map(accountView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v2/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Get an account',
        description: 'The operator may read any account; other keys only their own (another id answers 404).',
        params: IdParams,
        response: { 200: described('the account', AccountView) },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const p = principalOf(req);
      const account = p.operator || id === p.accountId ? await ctx.store.getAccount(id) : undefined;
      if (!account) throw notFound('account', id);
      return accountView(account);
    },
  );

  app.patch(
    '/api/v2/accounts/:id',
    { ...operator, schema: { tags: ['accounts'], summary: 'Update an account (operator)', params: IdParams, body: AccountPatch, response: { 200: described('the account as changed', AccountView), ...answers({ 422: LINK_BASE_REFUSED }) } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const body = req.body as Static<typeof AccountPatch>;
      const existing = await ctx.store.getAccount(id);
      if (!existing) throw notFound('account', id);
      const updated: Account = {
        ...existing,
        name: body.name ?? existing.name,
        rateLimitPerSecond: body.rate_limit_per_second === undefined ? existing.rateLimitPerSecond : body.rate_limit_per_second,
        linkBaseUrl: body.link_base_url === undefined ? existing.linkBaseUrl : (linkBase(body.link_base_url) ?? null),
      };
      await ctx.store.updateAccount(updated);
      ctx.accountChanged(id);
      return accountView(updated);
    },
  );
}

function registerProjects(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/projects',
    { ...admin, schema: { tags: ['projects'], summary: 'Create a project', body: ProjectCreate, response: { 201: described('the project created', ProjectView), ...answers({ 409: '`conflict`: a project with this id exists' }) } } },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const body = req.body as Static<typeof ProjectCreate>;
      if (body.id !== undefined && (await ctx.store.getProject(accountId, body.id))) {
        throw new ApiError(409, 'conflict', `project ${JSON.stringify(body.id)} already exists`, 'id');
      }
      const project = await ctx.store.createProject(accountId, body.name, body.id);
      return reply.status(201).send(projectView(project));
    },
  );

  app.get(
    '/api/v2/projects',
    { schema: { tags: ['projects'], summary: 'List projects', querystring: ProjectPageQuery, response: { 200: described('{data, next_cursor}: a page of projects', list(ProjectView)) } } },
    async (req) => {
      const q = req.query as Static<typeof ProjectPageQuery>;
      const page = await ctx.store.listProjects(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50 });
      return { data: page.items.map(projectView), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v2/projects/:id',
    { schema: { tags: ['projects'], summary: 'Get a project', params: IdParams, response: { 200: described('the project', ProjectView) } } },
    async (req) => {
      const { id } = req.params as Static<typeof IdParams>;
      const project = await ctx.store.getProject(principalOf(req).accountId, id);
      if (!project) throw notFound('project', id);
      return projectView(project);
    },
  );
}

/** API keys: created (shown once), listed without the key or its hash, deleted. */
function registerApiKeys(app: FastifyInstance, ctx: AppContext): void {
  app.post(
    '/api/v2/api-keys',
    {
      ...admin,
      schema: {
        tags: ['api-keys'],
        summary: 'Create an API key',
        description: 'Returns the key once; only its SHA-256 hash is stored.',
        body: ApiKeyCreate,
        response: { 201: described('the key created, with the key itself (shown this once)', ApiKeyCreated) },
      },
    },
    async (req, reply) => {
      const { accountId } = principalOf(req);
      const body = req.body as Static<typeof ApiKeyCreate>;
      const { key, prefix } = generateApiKey();
      const record = await ctx.store.createApiKey({ accountId, name: body.name, role: body.role, operator: false, hash: hashKey(key), prefix, source: 'api' });
      return reply.status(201).send({ ...apiKeyView(record), key });
    },
  );

  // Any role may ask what it may do, so a client (the admin UI) offers only what will work.
  app.get(
    '/api/v2/api-keys/current',
    {
      schema: {
        tags: ['api-keys'],
        summary: 'The key this request is sent with',
        description: 'Its id, role and account, for any role: what the key may do, without trying it.',
        response: { 200: described('the key: its id, role and the account it acts on', CurrentKeyView) },
      },
    },
    async (req) => {
      const p = principalOf(req);
      return { id: p.keyId, account_id: p.accountId, role: p.role, operator: p.operator };
    },
  );

  app.get(
    '/api/v2/api-keys',
    { ...admin, schema: { tags: ['api-keys'], summary: 'List API keys (never the key or its hash)', querystring: PageQuery, response: { 200: described('{data, next_cursor}: a page of keys (never the key or its hash)', list(ApiKeyView)) } } },
    async (req) => {
      const q = req.query as Static<typeof PageQuery>;
      const page = await ctx.store.listApiKeys(principalOf(req).accountId, { cursor: q.cursor, limit: q.limit ?? 50 });
      return { data: page.items.map(apiKeyView), next_cursor: page.nextCursor };
    },
  );

  app.delete(
    '/api/v2/api-keys/:id',
    {
      ...admin,
      schema: {
        tags: ['api-keys'],
        summary: 'Delete an API key',
        description: 'The key stops working at once in this process (within seconds in others). Operator keys are managed by HERALD_ADMIN_KEY and cannot be deleted here.',
        params: IdParams,
        response: answers({ 204: 'deleted', 409: '`operator_key`: an operator key (HERALD_ADMIN_KEY)' }),
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof IdParams>;
      const { accountId } = principalOf(req);
      const keys = await allKeys(ctx, accountId);
      const key = keys.find((k) => k.id === id);
      if (!key) throw notFound('API key', id);
      if (key.operator) throw new ApiError(409, 'operator_key', 'operator keys are managed by HERALD_ADMIN_KEY and cannot be deleted through the API');
      if (!(await ctx.store.deleteApiKey(accountId, id))) throw notFound('API key', id);
      ctx.keys.clear();
      return reply.status(204).send();
    },
  );
}

/** The store looks keys up by hash or lists them; an account has few keys. */
async function allKeys(ctx: AppContext, accountId: string): Promise<ApiKeyRecord[]> {
  const out: ApiKeyRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.store.listApiKeys(accountId, { cursor, limit: 250 });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}
