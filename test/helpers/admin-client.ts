import pg from "pg";

/** Runs `fn` on a short-lived connection to the admin database, for CREATE/DROP DATABASE. */
export async function withAdminClient<T>(url: string, fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client(url);
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}
