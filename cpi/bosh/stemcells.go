package bosh

import (
	"context"
	"encoding/json"
	"os"
	"sort"
	"strconv"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"

	"github.com/nanobox-hcloud/nanobox-hcloud/cpi"
	"github.com/nanobox-hcloud/nanobox-hcloud/protocol"
)

// StemcellProperties are the cloud_properties of a light Hetzner stemcell
// (stemcell.MF): exactly one of ImageID, ImageName and ImageSelector names
// an existing image or snapshot, of Architecture (x86 unless set). Other
// keys (a repacked stemcell keeps its heavy ones) are ignored.
type StemcellProperties struct {
	ImageID       json.Number `json:"image_id"`       // a number, or a string of digits
	ImageName     string      `json:"image_name"`     // e.g. "ubuntu-24.04" (names are per architecture)
	ImageSelector string      `json:"image_selector"` // a label selector; the newest match wins
	Architecture  string      `json:"architecture"`   // "x86" or "arm"
}

// CreateStemcell answers create_stemcell for a light stemcell: it checks
// that the image its cloud properties name exists (and is available, and
// of the architecture) and answers its id. Nothing is uploaded or copied.
// A stemcell whose properties name no image but whose image file has
// content is a heavy stemcell: NotSupported, since Hetzner has no image
// upload.
func (c *CPI) CreateStemcell(ctx context.Context, imagePath string, props StemcellProperties) (string, error) {
	const op = "create_stemcell"
	ways := 0
	for _, set := range []bool{props.ImageID != "", props.ImageName != "", props.ImageSelector != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways == 0 && heavy(imagePath):
		return "", newError(NotSupported, "%s: this is a heavy stemcell (an image file to upload), and Hetzner Cloud has no image upload; "+
			"use a light stemcell whose stemcell.MF cloud_properties name an existing Hetzner image or snapshot "+
			"(image_id, image_name or image_selector; see docs/bosh-cpi.md)", op)
	case ways == 0:
		return "", newError(CpiError, "%s: the stemcell's cloud_properties name no image: set one of image_id, image_name or image_selector", op)
	case ways > 1:
		return "", newError(CpiError, "%s: the stemcell's cloud_properties set more than one of image_id, image_name and image_selector", op)
	}
	arch := hcloud.ArchitectureX86
	switch props.Architecture {
	case "", "x86", "amd64", "x86_64":
	case "arm", "arm64", "aarch64":
		arch = hcloud.ArchitectureARM
	default:
		return "", newError(CpiError, "%s: architecture %q must be x86 or arm", op, props.Architecture)
	}
	image, err := c.findImage(ctx, op, props, arch)
	if err != nil {
		return "", err
	}
	if image.Status != hcloud.ImageStatusAvailable {
		return "", newError(CloudError, "%s: image %d is %s, not available", op, image.ID, image.Status)
	}
	c.log.Infof("%s: light stemcell uses image %d (%s, %s)", op, image.ID, image.Type, image.Architecture)
	return strconv.FormatInt(image.ID, 10), nil
}

// heavy reports whether the stemcell's image file has content.
func heavy(imagePath string) bool {
	fi, err := os.Stat(imagePath)
	return err == nil && fi.Size() > 0
}

func (c *CPI) findImage(ctx context.Context, op string, props StemcellProperties, arch hcloud.Architecture) (*hcloud.Image, error) {
	client, err := c.hcloud()
	if err != nil {
		return nil, err
	}
	var image *hcloud.Image
	var what string
	switch {
	case props.ImageID != "":
		id, perr := strconv.ParseInt(props.ImageID.String(), 10, 64)
		if perr != nil || id <= 0 {
			return nil, newError(CpiError, "%s: image_id %q is not an image id (a positive number)", op, protocol.Truncate(props.ImageID.String(), 40))
		}
		what = "image " + props.ImageID.String()
		image, _, err = client.Image.GetByID(ctx, id)
		if err == nil && image != nil && image.Architecture != arch {
			return nil, newError(CpiError, "%s: image %d is for %s, the stemcell says %s", op, id, image.Architecture, arch)
		}
	case props.ImageName != "":
		what = "image " + strconv.Quote(props.ImageName) + " for " + string(arch)
		image, _, err = client.Image.GetByNameAndArchitecture(ctx, props.ImageName, arch)
	default:
		what = "an image matching " + strconv.Quote(props.ImageSelector) + " for " + string(arch)
		var images []*hcloud.Image
		images, err = client.Image.AllWithOpts(ctx, hcloud.ImageListOpts{
			ListOpts:     hcloud.ListOpts{LabelSelector: props.ImageSelector},
			Architecture: []hcloud.Architecture{arch},
		})
		image = newestVisible(images)
	}
	if err != nil {
		return nil, cloudError(op+": looking up "+what, err)
	}
	if image == nil || cpi.Hidden(image.Labels) {
		return nil, newError(CloudError, "%s: %s does not exist in this Hetzner project", op, what)
	}
	return image, nil
}

// newestVisible is the newest image not labelled nanobox=false.
func newestVisible(images []*hcloud.Image) *hcloud.Image {
	visible := images[:0:0]
	for _, im := range images {
		if im != nil && !cpi.Hidden(im.Labels) {
			visible = append(visible, im)
		}
	}
	sort.SliceStable(visible, func(i, j int) bool { return visible[i].Created.After(visible[j].Created) })
	if len(visible) == 0 {
		return nil
	}
	return visible[0]
}

// DeleteStemcell answers delete_stemcell: it deletes the image only when
// this CPI made it (labelled managed-by=nanobox-hcloud, not nanobox=false);
// an image it was given (a light stemcell's) stays, and a missing one is
// success.
func (c *CPI) DeleteStemcell(ctx context.Context, cid string) error {
	const op = "delete_stemcell"
	id, err := parseCID(op, "stemcell", cid)
	if err != nil {
		return err
	}
	client, err := c.hcloud()
	if err != nil {
		return err
	}
	image, _, err := client.Image.GetByID(ctx, id)
	if err != nil {
		return cloudError(op, err)
	}
	if image == nil {
		c.log.Infof("%s: image %d is already gone", op, id)
		return nil
	}
	if !cpi.Ours(image.Labels) || image.Type != hcloud.ImageTypeSnapshot {
		c.log.Infof("%s: image %d was not made by this CPI; leaving it", op, id)
		return nil
	}
	if _, err := client.Image.Delete(ctx, image); err != nil && !hcloud.IsError(err, hcloud.ErrorCodeNotFound) {
		return cloudError(op, err)
	}
	c.log.Infof("%s: deleted image %d", op, id)
	return nil
}

// parseCID turns a CID into a Hetzner id; anything else is a CpiError.
func parseCID(op, kind, cid string) (int64, error) {
	id, ok := cpi.ParseID(cid)
	if !ok {
		return 0, newError(CpiError, "%s: %q is not a %s cid of this CPI (a Hetzner id)", op, protocol.Truncate(cid, 40), kind)
	}
	return id, nil
}
