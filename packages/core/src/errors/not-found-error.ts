import { AloftError } from './aloft-error.js';

/** `kind` "id" does not exist; `message` replaces the default wording when the caller has a better one. */
export class NotFoundError extends AloftError {
  constructor(
    readonly kind: string,
    readonly id?: string,
    message?: string,
  ) {
    super('NOT_FOUND', message ?? (id === undefined ? `${kind} not found` : `${kind} "${id}" not found`));
  }
}
