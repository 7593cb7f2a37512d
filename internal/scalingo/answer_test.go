package scalingo_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/scalingo"
)

// TestAnswerWithoutItsObject: a request whose answer lacks the object it asked
// for (or holds an unusable one) fails with the request and what was missing,
// never with a nil object.
func TestAnswerWithoutItsObject(t *testing.T) {
	answers := map[string]string{
		"ok":    `{"app": {"id": "1", "name": "ok"}}`,
		"empty": `{}`,
		"null":  `{"app": null}`,
		"bad":   `{"app": "not an object"}`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/tokens/exchange", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"token": "bearer-token"}`))
	})
	mux.HandleFunc("GET /v1/apps/{app}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(answers[r.PathValue("app")]))
	})
	mux.HandleFunc("POST /v1/apps/{app}/deployments", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"deployment": {"status": "queued"}}`)) // no id
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := scalingo.New(context.Background(), scalingo.ClientConfig{APIToken: "tk-us-test", APIEndpoint: srv.URL, AuthEndpoint: srv.URL, RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	app, err := c.AppsShow(ctx, "ok")
	if err != nil || app.Name != "ok" {
		t.Fatalf("AppsShow(ok) = %+v, %v", app, err)
	}
	for name, want := range map[string]string{
		"empty": "GET /v1/apps/empty: answer without an app",
		"null":  "GET /v1/apps/null: answer without an app",
		"bad":   "GET /v1/apps/bad: unreadable answer from the Scalingo API",
	} {
		if app, err := c.AppsShow(ctx, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AppsShow(%s) = %+v, %v; want an error with %q", name, app, err, want)
		}
	}
	d, err := c.DeploymentsCreate(ctx, "ok", &scalingo.DeploymentsCreateParams{})
	if want := "POST /v1/apps/ok/deployments: answer without a deployment"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("DeploymentsCreate with an answer without an id = %+v, %v; want an error with %q", d, err, want)
	}
}
