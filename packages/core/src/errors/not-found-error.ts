import { AloftError } from './aloft-error.js';

export class NotFoundError extends AloftError {
  constructor(kind: string, id?: string) {
    super('NOT_FOUND', id === undefined ? `${kind} not found` : `${kind} "${id}" not found`);
  }
}
