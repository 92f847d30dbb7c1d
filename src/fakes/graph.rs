//! A fake Meta Graph API: Facebook Pages and Instagram (containers).
