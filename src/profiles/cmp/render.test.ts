import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../types.js';
import { assetType, cmpPayload, cmpRenderer } from './render.js';

const CMP_BASE = 'https://api.cmp.optimizely.com';
const account = { id: 'acc_1', linkBaseUrl: CMP_BASE };

/** The JSON examples of seed 004, by event_name, read from the seed itself. */
function seedExamples(): Map<string, unknown> {
  const candidates = [fileURLToPath(new URL('../../../../shared/seeds/', import.meta.url)), path.resolve(process.cwd(), '../shared/seeds')];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) throw new Error('seeds not found');
  const text = readFileSync(path.join(dir, readdirSync(dir).find((f) => f.startsWith('004_'))!), 'utf8');
  const out = new Map<string, unknown>();
  for (const part of text.split(/\nExample\n/).slice(1)) {
    let depth = 0;
    let end = 0;
    for (let i = 0; i < part.length; i++) {
      if (part[i] === '{') depth++;
      if (part[i] === '}' && --depth === 0) {
        end = i + 1;
        break;
      }
    }
    const json = JSON.parse(part.slice(0, end)) as { event_name: string };
    out.set(json.event_name, json);
  }
  return out;
}

const seed = seedExamples();

function event(type: string, resource: CanonicalEvent['resource'], extra: Partial<CanonicalEvent> = {}): CanonicalEvent {
  return { id: 'msg_1', type, timestamp: '2024-05-01T10:00:00.000Z', sequence: 1, resource, data: {}, ...extra };
}

describe('CMP payloads match the examples of seed 004', () => {
  it('has the four examples to compare with', () => {
    expect([...seed.keys()].sort()).toEqual(['asset_added', 'asset_modified', 'asset_removed', 'asset_renditions_created']);
  });

  it('asset_added: asset with source (a task) and self link', () => {
    const ev = event('asset.created', {
      type: 'asset',
      id: '019a86405de737b4ec3e616a4aeff981',
      asset_type: 'image',
      owner_organization_id: '5108c3a9becac35915111191',
      source: { id: '656893caea057917c5796f2e', type: 'task' },
    });
    expect(cmpPayload(ev, { account })).toEqual(seed.get('asset_added'));
  });

  it('asset_removed: only id, owner organization and type', () => {
    const ev = event('asset.deleted', { type: 'asset', id: '870825113a12950a7eeeb64a64236d49', asset_type: 'article', owner_organization_id: '5108c3a9becac35915111191' });
    expect(cmpPayload(ev, { account })).toEqual(seed.get('asset_removed'));
  });

  it('asset_modified: attributes_changed from the canonical changes', () => {
    const ev = event(
      'asset.metadata.updated',
      { type: 'asset', id: '019a86405de737b4ec3e616a4aeff951', asset_type: 'image', owner_organization_id: '5108c3a9becac35915111191' },
      {
        data: { source: { id: '656893caea057917c5796f2e', type: 'task' } },
        changes: [{ field: 'title', from: 'a', to: 'b' }, 'description', { attribute: 'expires_at' }, 'title'],
      },
    );
    expect(cmpPayload(ev, { account })).toEqual(seed.get('asset_modified'));
  });

  it('asset_renditions_created: self and renditions links, no source', () => {
    const ev = event('asset.renditions.created', { type: 'asset', id: '019a86405de737b4ec3e616a4aeff951', asset_type: 'image', owner_organization_id: '5108c3a9becac35915111191' });
    expect(cmpPayload(ev, { account })).toEqual(seed.get('asset_renditions_created'));
  });
});

describe('CMP payload details', () => {
  it('accepts the CMP names as published types too and data.attributes_changed as is', () => {
    const ev = event('asset.metadata.updated', { type: 'asset', id: 'a1', asset_type: 'video' }, { data: { attributes_changed: ['alt_text'] } });
    expect(cmpPayload(ev, { account })).toEqual({
      event_name: 'asset_modified',
      data: {
        asset: {
          id: 'a1',
          owner_organization_id: 'acc_1',
          type: 'video',
          source: { id: null, type: null, links: { self: null } },
          links: { self: `${CMP_BASE}/v3/videos/a1` },
        },
        attributes_changed: ['alt_text'],
      },
    });
  });

  it('attributes_changed: without changes, the fields a metadata update sets, not what describes the asset', () => {
    const attrs = (ev: CanonicalEvent) => (cmpPayload(ev, { account }).data as { attributes_changed: unknown }).attributes_changed;
    const update = event('asset.metadata.updated', { type: 'asset', id: 'a1' }, {
      data: { title: 'New', expires_at: '2027-01-01T00:00:00Z', asset_type: 'image', filename: 'hero.png', owner_organization_id: 'org1', source: { id: 't1', type: 'task' } },
    });
    expect(attrs(update)).toEqual(['title', 'expires_at']);
    // `changes` that name something win over the data's keys
    expect(attrs(event('asset.metadata.updated', { type: 'asset', id: 'a1' }, { data: { title: 'New', tags: ['x'] }, changes: [{ field: 'tags' }] }))).toEqual(['tags']);
    // nothing known about what changed
    expect(attrs(event('asset.metadata.updated', { type: 'asset', id: 'a1', asset_type: 'image' }))).toEqual([]);
    expect(attrs(event('asset.metadata.updated', { type: 'asset', id: 'a1' }, { data: { asset_type: 'image' }, changes: [] }))).toEqual([]);
  });

  it('owner_organization_id: the published one (resource, then data), else the account id, never a blank', () => {
    const owner = (ev: CanonicalEvent, ctx: Parameters<typeof cmpPayload>[1] = { account }) =>
      (cmpPayload(ev, ctx).data as { asset: { owner_organization_id: unknown } }).asset.owner_organization_id;
    expect(owner(event('asset.deleted', { type: 'asset', id: 'a1', owner_organization_id: 'org_r' }, { data: { owner_organization_id: 'org_d' } }))).toBe('org_r');
    expect(owner(event('asset.deleted', { type: 'asset', id: 'a1' }, { data: { owner_organization_id: 'org_d' } }))).toBe('org_d');
    expect(owner(event('asset.deleted', { type: 'asset', id: 'a1', owner_organization_id: '' }, { data: { owner_organization_id: 42 } }))).toBe('acc_1');
    expect(owner(event('asset.deleted', { type: 'asset', id: 'a1' }), { account: undefined })).toBeNull();
  });

  it('a new version reaches asset_modified as asset.metadata.updated with changes ["versions"]; version.created has no CMP name', () => {
    const ev = event('asset.metadata.updated', { type: 'asset', id: 'v1', asset_type: 'video' }, { changes: ['versions'], data: { version_number: 3 } });
    expect(cmpPayload(ev, { account }).data).toMatchObject({ asset: { type: 'video' }, attributes_changed: ['versions'] });
    expect(cmpPayload(event('version.created', { type: 'asset', id: 'v1' }), { account }).event_name).toBe('version.created');
  });

  it('without a link base URL uses the links the event published, else the bare path', () => {
    const withLinks = event('asset.renditions.created', { type: 'asset', id: 'a1', asset_type: 'raw_file' }, { links: { self: 'https://dam.example/a1' } });
    expect(cmpPayload(withLinks, { account: { id: 'acc_1', linkBaseUrl: null } }).data).toEqual({
      asset: { id: 'a1', owner_organization_id: 'acc_1', type: 'raw_file', links: { self: 'https://dam.example/a1', renditions: '/v3/assets/a1/renditions' } },
    });
  });

  it('derives the asset type from the resource, the data or the MIME type', () => {
    expect(assetType({ type: 'image' }, {})).toBe('image');
    expect(assetType({ type: 'asset' }, { type: 'structured_content' })).toBe('structured_content');
    expect(assetType({ type: 'asset', mime_type: 'video/mp4' }, {})).toBe('video');
    expect(assetType({ type: 'asset', mime_type: 'application/pdf' }, {})).toBe('raw_file');
    expect(assetType({ type: 'asset' }, {})).toBe('raw_file');
  });

  it('sends only the five CMP types: another given type is not passed through, and the link follows the final type', () => {
    const doc = event('asset.created', { type: 'asset', id: 'a1', asset_type: 'document' });
    expect((cmpPayload(doc, { account }).data as { asset: unknown }).asset).toMatchObject({ type: 'raw_file', links: { self: `${CMP_BASE}/v3/raw-files/a1` } });
    const docImage = event('asset.created', { type: 'asset', id: 'a2', asset_type: 'document', mime_type: 'image/png' });
    expect((cmpPayload(docImage, { account }).data as { asset: unknown }).asset).toMatchObject({ type: 'image', links: { self: `${CMP_BASE}/v3/images/a2` } });
    expect(assetType({ type: 'asset', asset_type: 'Raw File' }, {})).toBe('raw_file');
    expect(assetType({ type: 'asset', asset_type: 'structured-content' }, {})).toBe('structured_content');
    expect(assetType({ type: 'asset', asset_type: 'IMAGE' }, {})).toBe('image');
    expect(assetType({ type: 'asset', asset_type: 'photo' }, { asset_type: 'video' })).toBe('video');
  });

  it('guesses the type from the filename when there is no usable type or MIME type', () => {
    expect(assetType({ type: 'asset', filename: 'hero.JPG' }, {})).toBe('image');
    expect(assetType({ type: 'asset' }, { filename: 'teaser.mov' })).toBe('video');
    expect(assetType({ type: 'asset' }, { file_name: 'banner.webp' })).toBe('image');
    expect(assetType({ type: 'asset', mime_type: 'application/octet-stream' }, { filename: 'clip.mp4' })).toBe('video');
    expect(assetType({ type: 'asset', mime_type: 'application/pdf', filename: 'scan.png' }, {})).toBe('raw_file');
    expect(assetType({ type: 'asset' }, { filename: 'report.pdf' })).toBe('raw_file');
    expect(assetType({ type: 'asset' }, { filename: 'README' })).toBe('raw_file');
  });

  it('renders one asset as the same type in asset_added (MIME type) and asset_modified (filename only)', () => {
    const added = event('asset.created', { type: 'asset', id: 'a1', mime_type: 'image/jpeg', filename: 'hero.jpg' });
    const modified = event('asset.metadata.updated', { type: 'asset', id: 'a1' }, { data: { filename: 'hero.jpg' }, changes: ['title'] });
    const assetOf = (ev: CanonicalEvent) => (cmpPayload(ev, { account }).data as { asset: { type: string; links: unknown } }).asset;
    expect(assetOf(modified)).toMatchObject({ type: 'image', links: { self: `${CMP_BASE}/v3/images/a1` } });
    expect(assetOf(modified).type).toBe(assetOf(added).type);
  });

  it('links a structured content asset under structured-contents', () => {
    const ev = event('asset.created', { type: 'asset', id: 's1', asset_type: 'structured_content' });
    expect((cmpPayload(ev, { account }).data as { asset: { links: unknown } }).asset.links).toEqual({ self: `${CMP_BASE}/v3/structured-contents/s1` });
  });

  it('counts only 200 and 202 as delivered', () => {
    expect([200, 201, 202, 204, 299].map((s) => cmpRenderer.isSuccess!(s))).toEqual([true, false, true, false, false]);
  });
});
