import { AloftError } from './aloft-error.js';

/** A request to the client that cannot be carried out as given; `field` names what is wrong. */
export class InvalidInputError extends AloftError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super('INVALID_INPUT', message);
  }
}
