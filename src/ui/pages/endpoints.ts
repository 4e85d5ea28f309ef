// Endpoints: the list with health, create and edit forms, the endpoint page with its secret,
// test send, enable/disable, recover (counted first) and delete.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiCallError } from '../api-client.js';
import { SubmittedForms } from '../submitted-forms.js';
import { type EndpointFormValues, type FormError, type FormMode, formFieldOf, HEADER_ROWS, keptExtraParams, readEndpointForm, valuesOf } from '../endpoint-form.js';
import { enc, field, type Form, formOf, formRefusal, hidden, idOf, isHtmx, parseInstant, queryOf, requireAdmin, type Ui } from '../kit.js';
import { pageLinks, positionOf } from '../pager.js';
import { typesToPick } from '../event-types.js';
import { type EndpointDto, type EndpointStatsDto, endpointSettings, type ListDto, type RecoveryDto, type RotatedDto } from '../models.js';

const HEALTH_HOURS = 24;

const ROTATED_ALREADY = 'The secret was rotated when this form was first sent; sending it again rotated nothing. The new secret was shown then (reveal it below).';

interface FormView {
  readonly mode: FormMode;
  readonly values: EndpointFormValues;
  readonly error: FormError | null;
  readonly endpoint?: EndpointDto;
}

export function registerEndpointPages(pages: FastifyInstance, ui: Ui): void {
  const p = new EndpointPages(ui);
  registerListAndForms(pages, p);
  registerEndpointPage(pages, p);
  registerEndpointActions(pages, p);
}

/** What the endpoint pages share: reading through the API, the form and endpoint pages, forms sent once. */
class EndpointPages {
  readonly submitted = new SubmittedForms();

  constructor(readonly ui: Ui) {}

  get<T>(req: FastifyRequest, path: string, query?: Record<string, string | undefined>): Promise<T> {
    return this.ui.api(req).get<T>(path, query);
  }

  endpointOf(req: FastifyRequest): Promise<EndpointDto> {
    return this.get<EndpointDto>(req, `/api/v2/endpoints/${enc(idOf(req))}`);
  }

  async healthOf(req: FastifyRequest, ids: readonly string[]): Promise<Map<string, EndpointStatsDto>> {
    if (ids.length === 0) return new Map();
    const stats = await this.get<ListDto<EndpointStatsDto>>(req, '/api/v2/stats/endpoints', { ids: ids.join(','), hours: String(HEALTH_HOURS) });
    return new Map(stats.data.map((s) => [s.endpoint_id, s]));
  }

  async formPage(req: FastifyRequest, reply: FastifyReply, view: FormView, status = 200): Promise<FastifyReply> {
    requireAdmin(req);
    const catalog = await typesToPick(this.ui.api(req));
    const title = view.mode === 'create' ? 'New endpoint' : `Edit ${view.endpoint!.description || view.endpoint!.url}`;
    const action = view.mode === 'create' ? '/endpoints' : `/endpoints/${enc(view.endpoint!.id)}/edit`;
    // A form shown again after an error keeps its id: it has created nothing yet.
    const formId = view.mode === 'create' ? field(formOf(req), 'form_id') || this.submitted.newId() : '';
    const extraParamNames = Object.keys(keptExtraParams(view.endpoint) ?? {});
    const invalid = view.error ? formFieldOf(view.error.field) : '';
    return this.ui.page(req, reply, 'endpoint-form', { title, nav: 'endpoints', catalog: catalog.topics, custom: catalog.custom, headerRows: HEADER_ROWS, action, formId, extraParamNames, invalid, ...view }, status);
  }

  /** Saves a form through the API; a refusal shows the form again with the API's message. */
  async save(req: FastifyRequest, reply: FastifyReply, mode: FormMode, endpoint?: EndpointDto): Promise<FastifyReply> {
    const { ui } = this;
    const reading = readEndpointForm(formOf(req), mode, endpoint);
    const again = (error: FormError) => this.formPage(req, reply, { mode, values: reading.values, error, endpoint }, 422);
    if (!reading.ok) return again(reading.error);
    try {
      if (mode === 'edit') {
        await ui.api(req).patch(`/api/v2/endpoints/${enc(endpoint!.id)}`, reading.body);
        return reply.redirect(`/endpoints/${enc(endpoint!.id)}?saved=1`, 303);
      }
      let created: (EndpointDto & { secret: string }) | undefined;
      const sent = await this.submitted.once(req.uiKey!, field(formOf(req), 'form_id'), async () => {
        created = await ui.api(req).post<EndpointDto & { secret: string }>('/api/v2/endpoints', reading.body);
        return created.id;
      });
      if (!sent.first || !created) return reply.redirect(`/endpoints/${enc(sent.id)}?created=1`, 303);
      return ui.page(req, reply, 'endpoint-created', { title: 'Endpoint created', nav: 'endpoints', endpoint: created, secret: created.secret }, 201);
    } catch (err) {
      const refusal = formRefusal(err);
      if (refusal) return again(refusal);
      throw err;
    }
  }

  async endpointPage(req: FastifyRequest, reply: FastifyReply, extra: { rotated?: RotatedDto } = {}): Promise<FastifyReply> {
    const endpoint = await this.endpointOf(req);
    const [health, catalog] = await Promise.all([this.healthOf(req, [endpoint.id]), typesToPick(this.ui.api(req))]);
    return this.ui.page(req, reply, 'endpoint', {
      title: endpoint.description || endpoint.url,
      nav: 'endpoints',
      endpoint,
      health: health.get(endpoint.id) ?? null,
      hours: HEALTH_HOURS,
      settings: endpointSettings(endpoint),
      catalog: catalog.topics,
      custom: catalog.custom,
      rotated: extra.rotated ?? null,
      // Each page's rotate form is sent once: a reload of the page it leads to rotates nothing.
      rotateFormId: this.submitted.newId(),
      saved: queryOf(req).saved === '1',
      createdAgain: queryOf(req).created === '1',
      rotatedAgain: queryOf(req).rotated === 'again' ? ROTATED_ALREADY : '',
    });
  }

  /**
   * A rotate form's rotation, sent with the form's id as its Idempotency-Key: the form sent again
   * to another process (which has not seen it) finds the first rotation too. Undefined when it
   * did not rotate: the API answered a repeat (no secret, shown once) or a later rotation
   * replaced that one (409 rotated_since).
   */
  async rotateOnce(req: FastifyRequest, id: string, formId: string): Promise<RotatedDto | undefined> {
    try {
      const answer = await this.ui.api(req).post<Partial<RotatedDto>>(`/api/v2/endpoints/${enc(id)}/secret/rotate`, undefined, formId ? { 'idempotency-key': formId } : undefined);
      return answer.secret === undefined ? undefined : (answer as RotatedDto);
    } catch (err) {
      if (err instanceof ApiCallError && err.code === 'rotated_since') return undefined;
      throw err;
    }
  }
}

/** The list with each endpoint's health, and the create and edit forms. */
function registerListAndForms(pages: FastifyInstance, p: EndpointPages): void {
  pages.get('/endpoints', hidden, async (req, reply) => {
    const at = positionOf(queryOf(req));
    const list = await p.get<ListDto<EndpointDto>>(req, '/api/v2/endpoints', { cursor: at.cursor });
    const health = await p.healthOf(req, list.data.map((e) => e.id));
    const pager = pageLinks('/endpoints', {}, at, list.next_cursor);
    return p.ui.page(req, reply, 'endpoints', { title: 'Endpoints', nav: 'endpoints', endpoints: list.data, health, hours: HEALTH_HOURS, pager, paged: at.cursor !== undefined });
  });

  pages.get('/endpoints/new', hidden, async (req, reply) => p.formPage(req, reply, { mode: 'create', values: valuesOf(undefined), error: null }));
  pages.post('/endpoints', hidden, async (req, reply) => p.save(req, reply, 'create'));

  pages.get('/endpoints/:id/edit', hidden, async (req, reply) => {
    const endpoint = await p.endpointOf(req);
    return p.formPage(req, reply, { mode: 'edit', values: valuesOf(endpoint), error: null, endpoint });
  });
  pages.post('/endpoints/:id/edit', hidden, async (req, reply) => p.save(req, reply, 'edit', await p.endpointOf(req)));
}

/** The endpoint's page, its health fragment, and its secret: rotated (once per form) and revealed. */
function registerEndpointPage(pages: FastifyInstance, p: EndpointPages): void {
  const { ui } = p;
  pages.get('/endpoints/:id', hidden, async (req, reply) => p.endpointPage(req, reply));

  pages.get('/endpoints/:id/health', hidden, async (req, reply) => {
    const health = await p.healthOf(req, [idOf(req)]);
    return ui.fragment(reply, 'partials/health', { health: health.get(idOf(req)) ?? null, hours: HEALTH_HOURS });
  });

  pages.post('/endpoints/:id/rotate', hidden, async (req, reply) => {
    const id = idOf(req);
    let rotated: RotatedDto | undefined;
    // The form sent again (a reload of the page showing the new secret, back and resubmit, a
    // double click) finds the first rotation instead of rotating once more, which would replace
    // the secret just shown with one nobody has seen.
    const formId = field(formOf(req), 'form_id');
    const sent = await p.submitted.once(req.uiKey!, formId && `rotate ${id} ${formId}`, async () => {
      rotated = await p.rotateOnce(req, id, formId);
      return rotated?.id ?? id;
    });
    if (!sent.first || !rotated) {
      if (isHtmx(req)) return ui.flash(req, reply, ROTATED_ALREADY, 'success');
      return reply.redirect(`/endpoints/${enc(id)}?rotated=again`, 303);
    }
    if (isHtmx(req)) {
      // The page's secret hint and settings change with it, and its form gets a new id for another rotation (swapped out of band).
      const endpoint = await p.endpointOf(req);
      return ui.fragment(reply, 'partials/secret', { rotated, endpoint, settings: endpointSettings(endpoint), rotateFormId: p.submitted.newId() });
    }
    return p.endpointPage(req, reply, { rotated });
  });

  pages.post('/endpoints/:id/reveal', hidden, async (req, reply) => {
    const revealed = await p.get<{ secret: string; previous_secret_expires_at: string | null }>(req, `/api/v2/endpoints/${enc(idOf(req))}/secret`);
    if (isHtmx(req)) return ui.fragment(reply, 'partials/revealed', { revealed });
    return ui.page(req, reply, 'revealed', { title: 'Signing secret', nav: 'endpoints', id: idOf(req), revealed });
  });
}

/** Enable or disable, send a test event, recover (counted first, then confirmed) and delete. */
function registerEndpointActions(pages: FastifyInstance, p: EndpointPages): void {
  const { ui } = p;
  pages.post('/endpoints/:id/toggle', hidden, async (req, reply) => {
    const disabled = field(formOf(req), 'disabled') === 'true';
    const endpoint = await ui.api(req).patch<EndpointDto>(`/api/v2/endpoints/${enc(idOf(req))}`, { disabled });
    if (isHtmx(req)) return ui.fragment(reply, 'partials/endpoint-status', { endpoint });
    return reply.redirect(`/endpoints/${enc(endpoint.id)}`, 303);
  });

  pages.post('/endpoints/:id/test', hidden, async (req, reply) => {
    const type = field(formOf(req), 'event_type');
    const sent = await ui.api(req).post<{ message_id: string; delivery_id: string }>(`/api/v2/endpoints/${enc(idOf(req))}/test`, type ? { event_type: type } : {});
    return ui.flash(req, reply, `Test event ${sent.message_id} queued as delivery ${sent.delivery_id}; it shows in the logs.`, 'success', 202);
  });

  pages.post('/endpoints/:id/recover', hidden, async (req, reply) => {
    const form = formOf(req);
    // Counted up to now, and confirmed up to the same time: deliveries failing meanwhile (an
    // outage still going on) are not sent with the ones counted.
    const scope = recoverScopeOf(form, field(form, 'confirm') === 'yes' ? undefined : new Date(ui.now()).toISOString());
    if (!scope) return ui.flash(req, reply, 'Enter the date and time to recover from (and a valid one to recover until, if any).', 'error', 422);
    const id = idOf(req);
    const { body, ...shown } = scope;
    if (field(form, 'confirm') !== 'yes') {
      const { would_requeue: count } = await ui.api(req).post<{ would_requeue: number }>(`/api/v2/endpoints/${enc(id)}/recover`, { ...body, dry_run: true });
      // One key per confirmation shown: a second click, or the form sent again after a timeout,
      // finds the recover the first began instead of re-queueing again.
      const view = { id, count, key: randomUUID(), ...shown };
      if (isHtmx(req)) return ui.fragment(reply, 'partials/recover-preview', view);
      return ui.page(req, reply, 'recover-preview', { title: 'Recover deliveries', nav: 'endpoints', ...view });
    }
    const key = field(form, 'recover_key');
    const recovery = await ui.api(req).post<RecoveryDto>(`/api/v2/endpoints/${enc(id)}/recover`, body, key ? { 'idempotency-key': key } : undefined);
    if (isHtmx(req)) return ui.fragment(reply, 'partials/recovered', { id, recovery });
    return reply.redirect(`/logs?endpoint_id=${enc(id)}`, 303);
  });

  // How far a recover still running has got: the recovered fragment asks again while it runs.
  pages.get('/endpoints/:id/recoveries/:recovery', hidden, async (req, reply) => {
    const id = idOf(req);
    const { recovery: recoveryId } = req.params as { recovery: string };
    const recovery = await p.get<RecoveryDto>(req, `/api/v2/endpoints/${enc(id)}/recoveries/${enc(recoveryId)}`);
    return ui.fragment(reply, 'partials/recovered', { id, recovery });
  });

  pages.post('/endpoints/:id/delete', hidden, async (req, reply) => {
    await ui.api(req).delete(`/api/v2/endpoints/${enc(idOf(req))}`);
    if (isHtmx(req)) return reply.header('hx-redirect', '/endpoints').status(204).send();
    return reply.redirect('/endpoints', 303);
  });
}

/**
 * The recover form: since (required), until (`now` when left empty), event types (comma or
 * space separated) and whether delivered ones are replayed too. `body` goes to the API, the
 * rest back into the form.
 */
function recoverScopeOf(form: Form, now?: string) {
  const since = parseInstant(field(form, 'since'));
  const untilText = field(form, 'until');
  const until = untilText ? parseInstant(untilText) : now;
  if (!since || (untilText && !until)) return undefined;
  const eventTypes = field(form, 'event_types').split(/[\s,]+/).filter(Boolean);
  const replay = field(form, 'replay') === 'yes';
  const body = {
    since,
    ...(until ? { until } : {}),
    ...(eventTypes.length > 0 ? { event_types: eventTypes } : {}),
    ...(replay ? { statuses: ['failed', 'succeeded'] } : {}),
  };
  return { body, since, until: until ?? '', eventTypes: eventTypes.join(', '), replay };
}
