import { AloftError } from './aloft-error.js';

/** A request that is right in itself but not in the current state (HTTP 409); `field` names what is in the way. */
export class ConflictError extends AloftError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super('CONFLICT', message);
  }
}
