/**
 * Header values as text, one rule for every reader of lane headers (propagation.ts for the lane header and baggage,
 * java-lane.ts for Java routers' headers): a string, a Buffer, or repeated values as Node and undici give them.
 */

/** A value as text; several values (repeated headers) joined with commas, as HTTP combines them. */
export function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) {
    const parts = value.map(headerText).filter((part): part is string => part !== undefined);
    return parts.length > 0 ? parts.join(',') : undefined;
  }
  return undefined;
}

/** The first of several values (a lane header sent twice counts once, as Node's own parsing does). */
export function firstHeaderText(value: unknown): string | undefined {
  return headerText(Array.isArray(value) ? value[0] : value);
}
