//! Facebook Pages, Instagram and LinkedIn against their fake servers.
