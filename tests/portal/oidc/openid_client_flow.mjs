// The whole code flow driven by panva's openid-client (v6), a certified relying-party library nobody here wrote.
// argv: issuer client_id client_secret redirect_uri post_logout_redirect_uri portal_cookie
// Prints one JSON object: the validated id_token claims, userinfo, and where logout went.
import * as oidc from "openid-client";

const [issuer, clientId, clientSecret, redirectUri, postLogoutUri, cookie] = process.argv.slice(2);
const insecure = { execute: [oidc.allowInsecureRequests] }; // loopback http issuer (the engineering notes' trap)

const config = await oidc.discovery(
  new URL(issuer),
  clientId,
  { client_secret: clientSecret, id_token_signed_response_alg: "ES256" },
  oidc.ClientSecretPost(clientSecret),
  insecure,
);
const verifier = oidc.randomPKCECodeVerifier();
const challenge = await oidc.calculatePKCECodeChallenge(verifier);
const nonce = oidc.randomNonce();
const state = oidc.randomState();
const scope = "openid profile address birthdate gender";
const authorizeUrl = oidc.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope, code_challenge: challenge, code_challenge_method: "S256", nonce, state,
});

// The resident's browser: the consent page, then its "allow" button (a form POST with the CSRF token).
const headers = { cookie: `openmyna_session=${cookie}`, accept: "text/html" };
const page = await fetch(authorizeUrl, { headers, redirect: "manual" });
if (page.status !== 200) throw new Error(`consent page: ${page.status} ${page.headers.get("location")}`);
const html = await page.text();
if (!html.includes('id="consent-allow"')) throw new Error("no consent-allow button");
const csrf = /name="csrf" value="([^"]+)"/.exec(html)[1];
const answer = await fetch(authorizeUrl, {
  method: "POST", redirect: "manual",
  headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({ csrf, decision: "allow" }),
});
const callback = answer.headers.get("location");
if (!callback || !callback.startsWith(redirectUri)) throw new Error(`consent answer: ${answer.status} ${callback}`);

const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);

// A replayed code must be refused by the provider, and openid-client must surface the refusal.
let replay = null;
try {
  await oidc.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
} catch (error) { replay = error.error ?? error.code ?? String(error); }

const logoutUrl = oidc.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token, post_logout_redirect_uri: postLogoutUri, state: "bye",
});
const logout = await fetch(logoutUrl, { headers, redirect: "manual" });
const fresh = oidc.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri, scope, code_challenge: challenge, code_challenge_method: "S256",
  nonce: oidc.randomNonce(), state,
});
const after = await fetch(fresh, { headers, redirect: "manual" });

console.log(JSON.stringify({
  claims, userinfo, replay,
  logout: { status: logout.status, location: logout.headers.get("location") },
  after_logout: { status: after.status, location: after.headers.get("location") },
}));
