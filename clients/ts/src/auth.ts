// How a leased key is presented to the provider.

/** Auth says in which header, after which prefix, the key is sent. */
export interface Auth {
  header: string;
  prefix: string;
}

/** openAIAuth sends "Authorization: Bearer <key>" (OpenAI and compatible relays). */
export const openAIAuth: Auth = { header: "authorization", prefix: "Bearer " };
/** anthropicAuth sends "x-api-key: <key>". */
export const anthropicAuth: Auth = { header: "x-api-key", prefix: "" };
/** geminiAuth sends "x-goog-api-key: <key>". */
export const geminiAuth: Auth = { header: "x-goog-api-key", prefix: "" };

/** headerAuth sends "<header>: <prefix><key>" (Azure OpenAI's "api-key", for instance). */
export function headerAuth(header: string, prefix = ""): Auth {
  return { header: header.toLowerCase(), prefix };
}
