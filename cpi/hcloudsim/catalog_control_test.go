package hcloudsim_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/hcloudsim"
	"github.com/nanobox-hcloud/nanobox-hcloud/cpi/internal/simtest"
)

func TestAvailabilityAndDeprecation(t *testing.T) {
	env := simtest.Start(t, hcloudsim.Options{})
	c := env.Client()
	ctx := testCtx(t)

	require.NoError(t, env.Sim.SetAvailability("cx23", "nbg1", false))
	st, _, err := c.ServerType.GetByName(ctx, "cx23")
	require.NoError(t, err)
	for _, l := range st.Locations {
		assert.Equal(t, l.Location.Name != "nbg1", l.Available, l.Location.Name)
	}
	_, _, err = c.Server.Create(ctx, createOpts("a"))
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceUnavailable), "%v", err)
	o := createOpts("a")
	o.Location = &hcloud.Location{Name: "fsn1"}
	_, _, err = c.Server.Create(ctx, o)
	require.NoError(t, err, "still available elsewhere")
	require.NoError(t, env.Sim.SetAvailability("cx23", "nbg1", true))
	_, _, err = c.Server.Create(ctx, createOpts("b"))
	require.NoError(t, err)

	past := time.Now().Add(-48 * time.Hour)
	require.NoError(t, env.Sim.DeprecateServerType("cx33", "hel1", past, time.Now().Add(-time.Hour)))
	require.NoError(t, env.Sim.DeprecateServerType("cx43", "", past, time.Now().Add(24*time.Hour)))
	cx33, _, err := c.ServerType.GetByName(ctx, "cx33")
	require.NoError(t, err)
	for _, l := range cx33.Locations {
		assert.Equal(t, l.Location.Name == "hel1", l.IsDeprecated(), l.Location.Name)
	}
	o = createOpts("c")
	o.ServerType, o.Location = &hcloud.ServerType{Name: "cx33"}, &hcloud.Location{Name: "hel1"}
	_, _, err = c.Server.Create(ctx, o)
	assert.True(t, hcloud.IsError(err, hcloud.ErrorCodeResourceUnavailable), "past unavailable_after: %v", err)
	cx43, _, err := c.ServerType.GetByName(ctx, "cx43")
	require.NoError(t, err)
	assert.True(t, cx43.IsDeprecated())
	o = createOpts("d")
	o.ServerType = &hcloud.ServerType{Name: "cx43"}
	_, _, err = c.Server.Create(ctx, o)
	assert.NoError(t, err, "announced but still orderable")

	assert.Error(t, env.Sim.SetAvailability("cx23", "ash", false), "not offered there")
	assert.Error(t, env.Sim.SetAvailability("cx999", "nbg1", false))
	assert.Error(t, env.Sim.DeprecateServerType("cx23", "", time.Now(), past))
}

func TestAdminCatalogRoutes(t *testing.T) {
	sim := hcloudsim.New(hcloudsim.Options{Token: "T"})
	admin := sim.AdminHandler()
	post := func(path, body string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer T")
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusNoContent, post("/_sim/catalog/availability", `{"server_type":"cx23","location":"nbg1","available":false}`))
	assert.Equal(t, http.StatusUnprocessableEntity, post("/_sim/catalog/availability", `{"server_type":"cx23","location":"mars","available":false}`))
	assert.Equal(t, http.StatusBadRequest, post("/_sim/catalog/availability", `{"server_type":"cx23","bogus":1}`))
	assert.Equal(t, http.StatusNoContent, post("/_sim/catalog/deprecation", `{"server_type":"cx23","location":"","announced":"2026-01-01T00:00:00Z","unavailable_after":"2026-06-01T00:00:00Z"}`))
	assert.Equal(t, http.StatusNotFound, post("/_sim/nothing", `{}`))

	req := httptest.NewRequest(http.MethodPost, "/_sim/catalog/availability", strings.NewReader(`{}`))
	rec := httptest.NewRecorder()
	admin.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
}
