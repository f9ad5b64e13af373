package scimsource_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deprov/deprov/identity/scimsource"
)

func jsonReader(t testing.TB, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// FuzzCreateUser posts arbitrary bodies: the endpoint never panics and
// always answers a SCIM User or a SCIM error.
func FuzzCreateUser(f *testing.F) {
	seed := func(v any) []byte {
		b, _ := json.Marshal(v)
		return b
	}
	f.Add(seed(user("E1", "bob")), false)
	f.Add(seed(user("", "carol")), true)
	f.Add([]byte(`{"schemas":["`+scimsource.URNUser+`"],"userName":"x","active":"False"}`), false)
	f.Add([]byte(`{"schemas":["`+scimsource.URNUser+`","`+acmeURN+`"],"userName":"x","`+acmeURN+`":{"lastDay":"2026-13-01","employmentStatus":"x"}}`), true)
	f.Add([]byte(`{"schemas":[],"userName":{"a":[1,2,{"b":null}]},"emails":[null,{"primary":"true"}]}`), false)
	f.Add([]byte(`{"userName": "x",}`), false)
	f.Add([]byte(`[1, "a", null]`), true)
	f.Add([]byte(`{"schemas":["`+scimsource.URNUser+`"],"userName":"x","name":{"formatted":1e999}}`), false)
	f.Add([]byte("\xff\xfe{}"), false)
	b := setup(f)
	f.Fuzz(func(t *testing.T, body []byte, idp bool) {
		token := hrToken
		if idp {
			token = idpToken
		}
		req := httptest.NewRequest(http.MethodPost, "/scim/v2/Users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, req)
		resp, raw := rec.Result(), rec.Body.Bytes()
		if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
			t.Fatalf("Content-Type %q", ct)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, raw)
		}
		schemas, _ := m["schemas"].([]any)
		switch resp.StatusCode {
		case http.StatusCreated:
			if len(schemas) == 0 || schemas[0] != scimsource.URNUser || m["id"] == "" || m["userName"] == "" {
				t.Fatalf("201 without a User: %s", raw)
			}
			if resp.Header.Get("Location") == "" {
				t.Fatal("201 without Location")
			}
			// The user reads back.
			loc := resp.Header.Get("Location")
			req := httptest.NewRequest(http.MethodGet, loc[strings.Index(loc, "/scim/v2/"):], nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			b.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET of a created user: %d %s", rec.Code, rec.Body)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			detail, _ := m["detail"].(string)
			if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || detail == "" {
				t.Fatalf("%d without a SCIM error: %s", resp.StatusCode, raw)
			}
			if resp.StatusCode == http.StatusBadRequest && m["scimType"] == nil {
				t.Fatalf("400 without scimType: %s", raw)
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, raw)
		}
	})
}

// FuzzPatchUser sends arbitrary PatchOp bodies to an existing user: never
// a panic, always the User or a SCIM error, and the user stays readable.
func FuzzPatchUser(f *testing.F) {
	seed := func(ops ...map[string]any) []byte {
		b, _ := json.Marshal(patchOp(ops...))
		return b
	}
	f.Add(seed(map[string]any{"op": "replace", "path": "active", "value": false}))
	f.Add(seed(map[string]any{"op": "Replace", "value": map[string]any{"active": "False", "name.givenName": "x"}}))
	f.Add(seed(map[string]any{"op": "add", "path": `emails[type eq "work"].value`, "value": "a@b"}))
	f.Add(seed(map[string]any{"op": "remove", "path": `emails[type eq "home" or primary eq true]`}))
	f.Add(seed(map[string]any{"op": "replace", "path": scimsource.URNEnterprise + ":manager", "value": "m"}))
	f.Add(seed(map[string]any{"op": "replace", "path": leaveDate, "value": "2026-02-30"}))
	f.Add(seed(map[string]any{"op": "add", "path": scimsource.URNEnterprise, "value": map[string]any{"department": 1}}))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"emails[not(value pr)]","value":{}}]}`))
	b := setup(f)
	b.do(f, http.MethodPost, "/scim/v2/Users", user("E1", "bob")).wantStatus(f, http.StatusCreated)
	f.Fuzz(func(t *testing.T, body []byte) {
		do := func(method string, body []byte) (int, map[string]any) {
			req := httptest.NewRequest(method, "/scim/v2/Users/E1", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+hrToken)
			rec := httptest.NewRecorder()
			b.h.ServeHTTP(rec, req)
			var m map[string]any
			if rec.Header().Get("Content-Type") != "application/scim+json" || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
				t.Fatalf("%s: %d not a SCIM answer: %s", method, rec.Code, rec.Body)
			}
			return rec.Code, m
		}
		code, m := do(http.MethodPatch, body)
		schemas, _ := m["schemas"].([]any)
		switch code {
		case http.StatusOK:
			if len(schemas) == 0 || schemas[0] != scimsource.URNUser || m["userName"] == "" {
				t.Fatalf("200 without a User: %v", m)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || m["detail"] == "" {
				t.Fatalf("%d without a SCIM error: %v", code, m)
			}
		default:
			t.Fatalf("status %d: %v", code, m)
		}
		if code, m := do(http.MethodGet, nil); code != http.StatusOK {
			t.Fatalf("GET after PATCH: %d %v", code, m)
		}
	})
}
