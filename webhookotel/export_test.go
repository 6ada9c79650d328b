package webhookotel

// KeptLinks returns how many Emit span contexts o keeps.
func KeptLinks(o *Observer) int {
	if o.links == nil {
		return 0
	}
	return o.links.len()
}
