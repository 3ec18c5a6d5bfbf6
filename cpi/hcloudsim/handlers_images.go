package hcloudsim

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud/schema"
)

// image is a snapshot or backup image of this project: "creating" until readyAt, then "available". System
// images live in the catalog.
type image struct {
	im      schema.Image
	readyAt time.Time
}

// view renders the image as of now; its size is known once it is available.
func (img *image) view(now time.Time) schema.Image {
	im := img.im
	im.Labels = copyLabels(im.Labels)
	im.Status = "available"
	if now.Before(img.readyAt) {
		im.Status = "creating"
		im.ImageSize = nil
	}
	return im
}

// imageList is every image, system images first, each as of now.
func (st *state) imageList(now time.Time) []schema.Image {
	out := append([]schema.Image(nil), st.cat.images...)
	for _, id := range sortedKeys(st.images) {
		out = append(out, st.images[id].view(now))
	}
	return out
}

// imageFilters are the enumerated query parameters of GET /images.
var imageFilters = []struct {
	key     string
	allowed []string
	field   func(im schema.Image) string
}{
	{"status", []string{"available", "creating", "unavailable"}, func(im schema.Image) string { return im.Status }},
	{"type", []string{"system", "app", "snapshot", "backup"}, func(im schema.Image) string { return im.Type }},
	{"architecture", []string{"x86", "arm"}, func(im schema.Image) string { return im.Architecture }},
	{"include_deprecated", []string{"true", "false"}, nil},
}

// imageMatches applies the name, label selector, enumerated and bound_to filters of GET /images.
func imageMatches(q map[string][]string, sel labelSelector, im schema.Image) bool {
	name := ""
	if im.Name != nil {
		name = *im.Name
	}
	if !matchName(q, name) || !sel.matches(im.Labels) {
		return false
	}
	for _, f := range imageFilters {
		if v := q[f.key]; f.field != nil && len(v) > 0 && !slices.Contains(v, f.field(im)) {
			return false
		}
	}
	b := first(q, "bound_to")
	return b == "" || (im.BoundTo != nil && strconv.FormatInt(*im.BoundTo, 10) == b)
}

func getImages(s *Sim, c *call) (int, any, *apiError) {
	q := c.query()
	sel, aerr := selectorFromQuery(q)
	if aerr != nil {
		return 0, nil, aerr
	}
	for _, f := range imageFilters {
		if err := checkEnum(q, f.key, f.allowed...); err != nil {
			return 0, nil, err
		}
	}
	out := []schema.Image{}
	for _, im := range s.st.imageList(c.now) {
		if imageMatches(q, sel, im) {
			out = append(out, im)
		}
	}
	return listBody("images", out, q, func(im schema.Image) sortKey {
		k := sortKey{id: im.ID}
		if im.Name != nil {
			k.name = *im.Name
		}
		if im.Created != nil {
			k.created = *im.Created
		}
		return k
	}, "id", "name", "created")
}

func getImage(s *Sim, c *call) (int, any, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return 0, nil, err
	}
	if im, ok := s.st.image(schema.IDOrName{ID: id}, ""); ok {
		return http.StatusOK, map[string]any{"image": im}, nil
	}
	return 0, nil, notFound("image", id)
}

// ownImageByPath finds a snapshot or backup of this project: 404 for an unknown image, 403 forbidden for a
// system image, which a project cannot change.
func (s *Sim) ownImageByPath(c *call) (*image, *apiError) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	if img, ok := s.st.images[id]; ok {
		return img, nil
	}
	if _, ok := s.st.cat.image(schema.IDOrName{ID: id}, ""); ok {
		return nil, newError("forbidden", "image %d is a system image and cannot be changed", id)
	}
	return nil, notFound("image", id)
}

// updateImage changes the description and labels, and converts a backup to a snapshot (type "snapshot").
func updateImage(s *Sim, c *call) (int, any, *apiError) {
	img, err := s.ownImageByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.ImageUpdateRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	if req.Type != nil && *req.Type != "snapshot" {
		return 0, nil, invalidField("type", "an image can only be converted to a snapshot")
	}
	var labels map[string]string
	if req.Labels != nil {
		if labels, err = validLabels(req.Labels); err != nil {
			return 0, nil, err
		}
		img.im.Labels = labels
	}
	if req.Description != nil {
		img.im.Description = *req.Description
	}
	if req.Type != nil {
		img.im.Type = "snapshot"
		img.im.BoundTo = nil
	}
	return http.StatusOK, map[string]any{"image": img.view(c.now)}, nil
}

// deleteImage deletes an unprotected snapshot or backup: 204 without a body.
func deleteImage(s *Sim, c *call) (int, any, *apiError) {
	img, err := s.ownImageByPath(c)
	if err != nil {
		return 0, nil, err
	}
	if img.im.Protection.Delete {
		return 0, nil, newError("protected", "image %d is protected against deletion", img.im.ID)
	}
	delete(s.st.images, img.im.ID)
	return http.StatusNoContent, nil, nil
}

// createImage serves the server action create_image: a snapshot (default) or, on a server with backups
// enabled, a backup bound to the server. The image is "creating" until the action ends.
func createImage(s *Sim, c *call, sv *server) (string, []schema.ActionResourceReference, map[string]any, *apiError) {
	var req schema.ServerActionCreateImageRequest
	// hcloud-go sends "type" and "description" as null when unset; the API takes that as absent.
	if len(bytes.TrimSpace(c.body)) > 0 {
		if err := c.decodeBody(&req, false, "type", "description"); err != nil {
			return "", nil, nil, err
		}
	}
	typ := "snapshot"
	if req.Type != nil {
		typ = *req.Type
	}
	var boundTo *int64
	switch {
	case typ == "backup" && sv.s.BackupWindow == nil:
		return "", nil, nil, invalidField("type", "backup images need backups enabled on the server")
	case typ == "backup":
		boundTo = ptr(sv.s.ID)
	case typ != "snapshot":
		return "", nil, nil, invalidField("type", "must be snapshot or backup")
	}
	labels, err := validLabels(req.Labels)
	if err != nil {
		return "", nil, nil, err
	}
	st := s.st
	id := st.newID()
	created := c.now.UTC().Truncate(time.Second)
	desc := sv.s.Name + "-" + created.Format("20060102150405")
	if req.Description != nil {
		desc = *req.Description
	}
	img := &image{readyAt: c.now.Add(s.opts.Delays.Action), im: schema.Image{
		ID: id, Type: typ, Description: desc, ImageSize: ptr(float32(sv.s.PrimaryDiskSize) / 10),
		DiskSize: float32(sv.s.PrimaryDiskSize), Created: &created,
		CreatedFrom: &schema.ImageCreatedFrom{ID: sv.s.ID, Name: sv.s.Name}, BoundTo: boundTo,
		Architecture: sv.s.ServerType.Architecture, Labels: labels,
	}}
	if src := sv.s.Image; src != nil {
		img.im.OSFlavor, img.im.OSVersion = src.OSFlavor, src.OSVersion
	} else {
		img.im.OSFlavor = "unknown"
	}
	st.images[id] = img
	s.record("image", id, desc, c.now)
	view := img.view(c.now)
	view.Status = "creating"
	view.ImageSize = nil
	return "create_image", nil, map[string]any{"image": view}, nil
}

// changeImageProtection serves POST /images/{id}/actions/change_protection on a snapshot or backup.
func changeImageProtection(s *Sim, c *call) (int, any, *apiError) {
	img, err := s.ownImageByPath(c)
	if err != nil {
		return 0, nil, err
	}
	var req schema.ImageActionChangeProtectionRequest
	if err := c.decode(&req); err != nil {
		return 0, nil, err
	}
	if req.Delete != nil {
		img.im.Protection.Delete = *req.Delete
	}
	ac := s.st.newAction(c.now, "change_protection", s.opts.Delays.Action, schema.ActionResourceReference{ID: img.im.ID, Type: "image"})
	return http.StatusCreated, map[string]any{"action": ac.runningView()}, nil
}
