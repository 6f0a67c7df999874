/** Own-property helpers shared by the patching and observing code. */

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any provider method
export type AnyFunction = Function;

/**
 * Defines an own property the way the object already had it: replacing an own field
 * (`parseResponse`, a Stream's `iterator`) keeps its enumerability, so `Object.keys` and
 * spreads of the caller's object look the same; a new one (an override of a prototype
 * method) is hidden, like the class method it shadows.
 */
export function defineOwn(owner: object, key: PropertyKey, value: unknown): void {
  const existing = Object.getOwnPropertyDescriptor(owner, key);
  Object.defineProperty(owner, key, {
    value,
    writable: true,
    configurable: true,
    enumerable: existing?.enumerable ?? false,
  });
}
