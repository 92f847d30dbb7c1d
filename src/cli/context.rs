//! What most commands load first: the configuration, the campaign folder, "now".
