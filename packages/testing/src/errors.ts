import type { ImportErrorRecord } from '@aloft/core';

/** A DAG file that cannot be tested: missing, failing to import, or not declaring the DAG asked for. */
export class DagFileError extends Error {
  override readonly name = 'DagFileError';
  constructor(
    readonly file: string,
    message: string,
    readonly line?: number | undefined,
    readonly field?: string | undefined,
  ) {
    super(message);
  }

  /** The scheduler's import error of a file, as it would show on the dashboard. */
  static fromImportError(e: ImportErrorRecord): DagFileError {
    const where = `${e.file}${e.line ? `:${e.line}` : ''}${e.field ? ` (${e.field})` : ''}`;
    return new DagFileError(e.file, `${where}: ${e.message}`, e.line, e.field);
  }
}

/** No DAG with this id in the file or folder searched. */
export class UnknownDagError extends Error {
  override readonly name = 'UnknownDagError';
  constructor(
    readonly dagId: string,
    /** The file or folder searched. */
    readonly where: string,
    readonly known: readonly string[],
    readonly importErrors: readonly ImportErrorRecord[] = [],
  ) {
    const errors = importErrors.map((e) => `\n  ${DagFileError.fromImportError(e).message}`).join('');
    super(
      `no DAG "${dagId}" in ${where}` +
        (known.length ? ` (it declares ${known.join(', ')})` : ' (it declares no DAG)') +
        (errors ? `; files that failed to import:${errors}` : ''),
    );
  }
}

/** A task id the DAG does not have. */
export class UnknownTaskError extends Error {
  override readonly name = 'UnknownTaskError';
  constructor(
    readonly dagId: string,
    readonly taskId: string,
    readonly known: readonly string[],
  ) {
    super(`DAG "${dagId}" has no task "${taskId}" (its tasks: ${known.join(', ')})`);
  }
}

/** A run conf that the DAG's params refuse. */
export class InvalidConfError extends Error {
  override readonly name = 'InvalidConfError';
  constructor(
    readonly dagId: string,
    readonly problems: readonly string[],
  ) {
    super(`conf for DAG "${dagId}" is invalid: ${problems.join('; ')}`);
  }
}
