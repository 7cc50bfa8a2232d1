"""Copy-paste snippets for the Install page, filled in with a client's id, origin and our issuer."""

from __future__ import annotations

from dataclasses import dataclass

from chatapp.sdk_bundle import SdkBuild

GET_CODE_AND_EVENTS = """\
    clientId: "%%CLIENT_ID%%",
    async getCode({ codeChallenge, codeChallengeMethod, dpopJkt, origin }) {
      const response = await fetch("/chatframe/code", {   // your backend endpoint
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ codeChallenge, codeChallengeMethod, dpopJkt, origin }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        // your backend passes Chatframe's error_description on: it names the fix
        throw new Error(body.error_description || `/chatframe/code answered ${response.status}`);
      }
      return body.code;
    },
    onEvent(event) {
      // every message from the chat; ERROR and AUTH_ERROR say what went wrong and how to fix it
      if (event.type === "ERROR" || event.type === "AUTH_ERROR") {
        console.warn("Chatframe:", event.error, event.error_description);
      }
    },
"""

PAGE_SCRIPT = (
    """\
<div id="chat"></div>
<script src="%%SDK_URL%%"></script>
<script>
  Chatframe.mount("#chat", {
"""
    + GET_CODE_AND_EVENTS
    + """\
  });
</script>
"""
)

PAGE_MODULE = (
    """\
<div id="chat"></div>
<script type="module">
  import { Chatframe } from "%%ISSUER%%/sdk/v1/chatframe.js";
  Chatframe.mount("#chat", {
"""
    + GET_CODE_AND_EVENTS
    + """\
  });
</script>
"""
)

PINNED_SCRIPT = """\
<script src="%%PINNED_URL%%"
        integrity="%%INTEGRITY%%" crossorigin="anonymous"></script>
"""

CURL = """\
# Sample values; your backend gets them from the page script's getCode call.
USER_ID=alice   # your signed-in user's id
CODE_CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
DPOP_JKT=NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs

# --fail-with-body: exit non-zero on a refusal, still printing Chatframe's error_description
curl -s --fail-with-body %%ISSUER%%/oauth/token \\
  -u "%%CLIENT_ID%%:$CHATFRAME_CLIENT_SECRET" \\
  -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\
  --data-urlencode "subject_token=$USER_ID" \\
  -d subject_token_type=urn:chatframe:token-type:partner-user-id \\
  --data-urlencode "scope=chat bot:%%BOT_ID%%" \\
  --data-urlencode "origin=%%ORIGIN%%" \\
  -d code_challenge="$CODE_CHALLENGE" -d code_challenge_method=S256 \\
  -d dpop_jkt="$DPOP_JKT"
"""

PYTHON = """\
import os

import requests

CHATFRAME = "%%ISSUER%%"
CLIENT_ID = "%%CLIENT_ID%%"
ORIGIN = "%%ORIGIN%%"  # the page that embeds the chat


class ChatframeError(Exception):
    \"\"\"Chatframe refused the embed code; ``description`` says what to fix.\"\"\"

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"Chatframe: {error}: {description}")
        self.error = error
        self.description = description


def embed_code(
    user_id: str, bot_ids: list[str], code_challenge: str, dpop_jkt: str, origin: str = ORIGIN
) -> str:
    \"\"\"Ask Chatframe for a one-time embed code for our signed-in user.\"\"\"
    response = requests.post(
        f"{CHATFRAME}/oauth/token",
        auth=(CLIENT_ID, os.environ["CHATFRAME_CLIENT_SECRET"]),
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": user_id,
            "subject_token_type": "urn:chatframe:token-type:partner-user-id",
            "scope": " ".join(["chat"] + [f"bot:{bot_id}" for bot_id in bot_ids]),
            "origin": origin,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            "dpop_jkt": dpop_jkt,
        },
        timeout=10,
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not response.ok:
        raise ChatframeError(
            body.get("error", f"http_{response.status_code}"),
            body.get("error_description", "Chatframe gave no reason."),
        )
    return body["access_token"]


# In your POST /chatframe/code handler, after your own sign-in check:
#   body = request.get_json()
#   try:
#       code = embed_code(
#           user.id, ["%%BOT_ID%%"], body["codeChallenge"], body["dpopJkt"], body["origin"]
#       )
#   except ChatframeError as exc:  # pass the reason on: the page's getCode shows it
#       return {"error": exc.error, "error_description": exc.description}, 502
#   return {"code": code}
"""

NODE = """\
const CHATFRAME = "%%ISSUER%%";
const CLIENT_ID = "%%CLIENT_ID%%";
const ORIGIN = "%%ORIGIN%%"; // the page that embeds the chat

// Chatframe refused the embed code; `description` says what to fix.
export class ChatframeError extends Error {
  constructor(error, description) {
    super(`Chatframe: ${error}: ${description}`);
    this.error = error;
    this.description = description;
  }
}

// Ask Chatframe for a one-time embed code for our signed-in user (Node 18+).
export async function embedCode(userId, botIds, { codeChallenge, dpopJkt, origin = ORIGIN }) {
  const credentials = Buffer.from(
    `${CLIENT_ID}:${process.env.CHATFRAME_CLIENT_SECRET}`,
  ).toString("base64");
  const response = await fetch(`${CHATFRAME}/oauth/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${credentials}` },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: userId,
      subject_token_type: "urn:chatframe:token-type:partner-user-id",
      scope: ["chat", ...botIds.map((botId) => `bot:${botId}`)].join(" "),
      origin,
      code_challenge: codeChallenge,
      code_challenge_method: "S256",
      dpop_jkt: dpopJkt,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ChatframeError(
      body.error ?? `http_${response.status}`,
      body.error_description ?? "Chatframe gave no reason.",
    );
  }
  return body.access_token;
}

// In your POST /chatframe/code handler, after your own sign-in check:
//   try {
//     res.json({ code: await embedCode(req.user.id, ["%%BOT_ID%%"], req.body) });
//   } catch (error) {
//     if (!(error instanceof ChatframeError)) throw error;
//     // pass the reason on: the page's getCode shows it
//     res.status(502).json({ error: error.error, error_description: error.description });
//   }
"""


SWIFT = """\
import UIKit
import WebKit

/// The Chatframe chat in a WKWebView (iOS 14+). The page asks for a one-time code over the
/// "chatframe" message handler; the reply goes back as the postMessage promise's value.
final class ChatViewController: UIViewController, WKScriptMessageHandlerWithReply {
    static let chatframeHost = URL(string: "%%NATIVE_ORIGIN%%")!
    static let chatURL = URL(string: "%%ISSUER%%/embed/%%CLIENT_ID%%/native")!
    // Your backend's endpoint that returns {"code": …} for the app's signed-in user.
    static let codeEndpoint = URL(string: "https://api.your-app.example/chatframe/code")!

    private var webView: WKWebView!

    override func viewDidLoad() {
        super.viewDidLoad()
        let configuration = WKWebViewConfiguration()
        configuration.websiteDataStore = .nonPersistent()
        configuration.userContentController.addScriptMessageHandler(
            WeakReplyHandler(self), contentWorld: .page, name: "chatframe")
        webView = WKWebView(frame: view.bounds, configuration: configuration)
        webView.autoresizingMask = [.flexibleWidth, .flexibleHeight]
        view.addSubview(webView)
        webView.load(URLRequest(url: Self.chatURL))
    }

    func userContentController(
        _ userContentController: WKUserContentController,
        didReceive message: WKScriptMessage,
        replyHandler: @escaping (Any?, String?) -> Void
    ) {
        // Answer Chatframe's own page only, in the top frame; ignore everything else.
        let origin = message.frameInfo.securityOrigin
        guard message.frameInfo.isMainFrame,
              origin.protocol == Self.chatframeHost.scheme,
              origin.host == Self.chatframeHost.host,
              origin.port == (Self.chatframeHost.port ?? 0),
              let text = message.body as? String,
              let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let ready = json as? [String: Any],
              ready["chatframe"] as? Int == 1, ready["type"] as? String == "READY",
              let requestId = ready["request_id"] as? String,
              let codeChallenge = ready["code_challenge"] as? String,
              let dpopJkt = ready["dpop_jkt"] as? String
        else { return replyHandler(nil, nil) }  // AUTH_SUCCESS, AUTH_ERROR, …: nothing to answer
        Task { @MainActor in
            do {
                let code = try await Self.embedCode(codeChallenge: codeChallenge, dpopJkt: dpopJkt)
                let reply: [String: Any] = [
                    "chatframe": 1, "type": "AUTH", "code": code, "request_id": requestId,
                ]
                let json = try JSONSerialization.data(withJSONObject: reply)
                replyHandler(String(decoding: json, as: UTF8.self), nil)
            } catch {
                replyHandler(nil, "No code")
            }
        }
    }

    /// Your backend checks the app's signed-in user, then calls Chatframe's token exchange
    /// with origin=%%NATIVE_ORIGIN%% and these two values.
    static func embedCode(codeChallenge: String, dpopJkt: String) async throws -> String {
        var request = URLRequest(url: codeEndpoint)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: [
            "codeChallenge": codeChallenge, "codeChallengeMethod": "S256", "dpopJkt": dpopJkt,
        ])
        let (data, _) = try await URLSession.shared.data(for: request)
        let body = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard let code = body?["code"] as? String else { throw URLError(.badServerResponse) }
        return code
    }
}

/// WKUserContentController retains its handlers: hold the view controller weakly.
private final class WeakReplyHandler: NSObject, WKScriptMessageHandlerWithReply {
    private weak var target: WKScriptMessageHandlerWithReply?

    init(_ target: WKScriptMessageHandlerWithReply) { self.target = target }

    func userContentController(
        _ userContentController: WKUserContentController,
        didReceive message: WKScriptMessage,
        replyHandler: @escaping (Any?, String?) -> Void
    ) {
        guard let target else { return replyHandler(nil, nil) }
        target.userContentController(
            userContentController, didReceive: message, replyHandler: replyHandler)
    }
}
"""

KOTLIN = """\
import android.annotation.SuppressLint
import android.net.Uri
import android.webkit.WebView
import androidx.lifecycle.LifecycleCoroutineScope
import androidx.webkit.WebViewCompat
import androidx.webkit.WebViewFeature
import kotlinx.coroutines.launch
import org.json.JSONObject

const val CHATFRAME_ORIGIN = "%%NATIVE_ORIGIN%%"
const val CHAT_URL = "%%ISSUER%%/embed/%%CLIENT_ID%%/native"

/**
 * Shows the Chatframe chat (androidx.webkit 1.3+). The page asks for a one-time code through
 * the "chatframe" web message listener, injected into Chatframe's origin only; never use
 * addJavascriptInterface. [embedCode] asks your backend, which calls Chatframe's token
 * exchange with origin=%%NATIVE_ORIGIN%%.
 */
@SuppressLint("SetJavaScriptEnabled")
fun WebView.showChatframe(
    scope: LifecycleCoroutineScope,  // e.g. lifecycleScope: replies are posted on the main thread
    embedCode: suspend (codeChallenge: String, dpopJkt: String) -> String,
) {
    check(WebViewFeature.isFeatureSupported(WebViewFeature.WEB_MESSAGE_LISTENER)) {
        "This WebView is too old for Chatframe's bridge: update Android System WebView."
    }
    settings.javaScriptEnabled = true
    WebViewCompat.addWebMessageListener(this, "chatframe", setOf(CHATFRAME_ORIGIN)) {
            _, message, sourceOrigin, isMainFrame, replyProxy ->
        if (!isMainFrame || sourceOrigin != Uri.parse(CHATFRAME_ORIGIN)) {
            return@addWebMessageListener
        }
        val ready = runCatching { JSONObject(message.data ?: "") }.getOrNull()
            ?: return@addWebMessageListener
        if (ready.optInt("chatframe") != 1 || ready.optString("type") != "READY") {
            return@addWebMessageListener  // AUTH_SUCCESS, AUTH_ERROR, …: nothing to answer
        }
        scope.launch {
            val code = embedCode(ready.getString("code_challenge"), ready.getString("dpop_jkt"))
            val reply = JSONObject()
                .put("chatframe", 1)
                .put("type", "AUTH")
                .put("code", code)
                .put("request_id", ready.getString("request_id"))
            replyProxy.postMessage(reply.toString())
        }
    }
    loadUrl(CHAT_URL)
}
"""

REACT_NATIVE = """\
import { useRef } from "react";
import { WebView } from "react-native-webview";

const CHATFRAME_ORIGIN = "%%NATIVE_ORIGIN%%";
const CHAT_URL = "%%ISSUER%%/embed/%%CLIENT_ID%%/native";

// The Chatframe chat in react-native-webview. The page asks for a one-time code with
// window.ReactNativeWebView.postMessage; the answer goes back with webView.postMessage.
// getCode({ codeChallenge, codeChallengeMethod, dpopJkt }) asks your backend, which calls
// Chatframe's token exchange with origin=%%NATIVE_ORIGIN%%.
export function Chat({ getCode }) {
  const webView = useRef(null);

  async function onMessage(event) {
    if (!event.nativeEvent.url.startsWith(`${CHATFRAME_ORIGIN}/`)) return;
    let ready;
    try {
      ready = JSON.parse(event.nativeEvent.data);
    } catch {
      return;
    }
    if (ready?.chatframe !== 1 || ready.type !== "READY") return; // AUTH_SUCCESS, …
    const code = await getCode({
      codeChallenge: ready.code_challenge,
      codeChallengeMethod: ready.code_challenge_method,
      dpopJkt: ready.dpop_jkt,
    });
    webView.current?.postMessage(
      JSON.stringify({ chatframe: 1, type: "AUTH", code, request_id: ready.request_id }),
    );
  }

  return (
    <WebView
      ref={webView}
      source={{ uri: CHAT_URL }}
      originWhitelist={[CHATFRAME_ORIGIN]}
      onMessage={onMessage}
      incognito
    />
  );
}
"""


@dataclass(frozen=True)
class Snippets:
    page_script: str
    page_module: str
    pinned_script: str
    curl: str
    python: str
    node: str
    swift: str
    kotlin: str
    react_native: str


def snippets(
    issuer: str,
    client_id: str,
    origin: str,
    bot_id: str | None,
    sdk: SdkBuild,
    native_origin: str,
) -> Snippets:
    """Every snippet, filled in (``$BOT_ID`` stands in until the customer has a bot)."""
    # %%NAME%% placeholders: JavaScript's ${NAME} and Python's {name} stay untouched.
    values = {
        "%%SDK_URL%%": f"{issuer}/sdk/v1/chatframe.js",
        "%%PINNED_URL%%": f"{issuer}/sdk/{sdk.version}/chatframe.js",
        "%%INTEGRITY%%": sdk.classic_integrity,
        "%%ISSUER%%": issuer,
        "%%NATIVE_ORIGIN%%": native_origin,
        "%%CLIENT_ID%%": client_id,
        "%%ORIGIN%%": origin,
        "%%BOT_ID%%": bot_id or "$BOT_ID",
    }

    def fill(template: str) -> str:
        for placeholder, value in values.items():
            template = template.replace(placeholder, value)
        return template

    return Snippets(
        fill(PAGE_SCRIPT),
        fill(PAGE_MODULE),
        fill(PINNED_SCRIPT),
        fill(CURL),
        fill(PYTHON),
        fill(NODE),
        fill(SWIFT),
        fill(KOTLIN),
        fill(REACT_NATIVE),
    )
