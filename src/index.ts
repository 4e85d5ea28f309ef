// Public entry point of the package: the receiver SDK and the event catalog.
export * from './signing/verify.js';
export { catalog, findEventType, eventTypesByTopic, compileFilter, type EventTypeDef, type Profile } from './catalog/index.js';
