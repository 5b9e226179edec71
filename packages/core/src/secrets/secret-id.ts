/** Connection and variable ids: letters, digits, `_`, `-` and `.`, as Airflow's conn_id; never a path. */
export const SECRET_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;
