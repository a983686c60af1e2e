// The public GraphQL API, nothing else: POST /graphql with the tab's credential.

const STORAGE_KEY = "tandem.credential";

export type Role = "admin" | "marketing" | "sales" | "viewer" | "ingest";

export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
  }
}

/** What to tell the user of a failed call: the API's own message when it answered. */
export function problemText(exc: unknown): string {
  return exc instanceof ApiError ? exc.message : String(exc);
}

// A share link's token, used by this page instead of any signed-in key (never stored).
let pinned: string | null = null;

export function pinCredential(credential: string): void {
  pinned = credential;
}

export function storedCredential(): string | null {
  return pinned ?? sessionStorage.getItem(STORAGE_KEY);
}

export function storeCredential(credential: string | null): void {
  if (credential) sessionStorage.setItem(STORAGE_KEY, credential);
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** API keys go in X-API-Key; anything else (a JWT, a share link's token) as a Bearer token. */
export function authHeaders(credential: string): Record<string, string> {
  return credential.startsWith("tdm_")
    ? { "X-API-Key": credential }
    : { Authorization: `Bearer ${credential}` };
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string; fields?: FieldProblem[] };
}

export async function gql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  credential: string | null = storedCredential(),
): Promise<T> {
  if (!credential) throw new ApiError("Sign in with an API key first.", "UNAUTHENTICATED");
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders(credential) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError(
      "The Tandem gateway cannot be reached. Check that it is running, then try again.",
      "UNAVAILABLE",
    );
  }
  let body: { data?: T; errors?: GraphQLError[] };
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The gateway answered ${response.status} without JSON.`, "INTERNAL");
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code ?? "INTERNAL";
    throw new ApiError(error.message, code, error.extensions?.fields ?? []);
  }
  if (body.data === undefined) throw new ApiError("The gateway answered no data.", "INTERNAL");
  return body.data;
}

/** What each role may change (SPEC 10): the API enforces it, the screens follow it. */
export const can = {
  editSettings: (role: Role) => role === "admin",
  editActionItems: (role: Role) => role === "admin" || role === "sales",
  editLibrary: (role: Role) => role === "admin" || role === "marketing",
};
