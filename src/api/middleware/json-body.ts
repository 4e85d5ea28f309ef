// How JSON request bodies are read. Fastify's own parser (prototype poisoning refused), except:
// - an empty body is no body, so a route whose body is optional (a test send, a rotation) works
//   with the content-type a client library adds by habit; a route that needs one says so (400);
// - a compressed body is refused with 415 naming the encoding, rather than failing as bad JSON;
// - valid JSON refused for a `__proto__` or `constructor.prototype` key says so;
// - a text/plain body is a 415 (as a string it would only fail later as "not an object"), but an
//   empty one is no body, as fetch() labels a request with `body: ''`;
// - a NUL character anywhere in it is a 400 naming the field (no-nul.ts).
import type { FastifyInstance } from 'fastify';
import { ApiError, unsupportedContentType } from './errors.js';
import { checkJsonText } from './no-nul.js';

export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (req, body, done) => {
    if ((typeof body === 'string' ? body : body.toString('utf8')) === '') {
      done(null, undefined);
      return;
    }
    done(new ApiError(415, 'unsupported_media_type', unsupportedContentType(req.headers['content-type'])), undefined);
  });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const encoding = req.headers['content-encoding']?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      done(new ApiError(415, 'unsupported_media_type', `content-encoding ${JSON.stringify(encoding)} is not supported; send the body uncompressed`), undefined);
      return;
    }
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text === '') {
      done(null, undefined);
      return;
    }
    parse(req, text, (err, value) => done(err ? refusedKeyOrSyntax(err, text) : checkJsonText(text, value), value));
  });
}

/** Fastify's parser says "not valid JSON" for both; only valid JSON can have had a refused key. */
function refusedKeyOrSyntax(err: Error, text: string): Error {
  try {
    JSON.parse(text);
  } catch {
    return err;
  }
  return new ApiError(400, 'invalid_request', 'body has a key that is refused: __proto__, or constructor.prototype', 'body');
}
