export { AloftError } from './aloft-error.js';
export { DagImportError } from './dag-import-error.js';
export { IllegalTransitionError } from './illegal-transition-error.js';
export { TaskFailedError } from './task-failed-error.js';
export { NonRetryableError, isNonRetryable } from './non-retryable-error.js';
export { NotFoundError } from './not-found-error.js';
export { InvalidInputError } from './invalid-input-error.js';
export { ConflictError } from './conflict-error.js';
